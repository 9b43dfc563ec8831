"""Audit store of decisions: a small SQLite database in WAL mode (batch runs and the API).

One generic table, ``decisions``: who (customer id only, never names or emails), when, which
segment, which policy and model versions, why (reasons as JSON), where from (``source``:
``batch`` or ``api``) and the decision itself (``payload`` JSON). It answers "why was this
customer escalated on that day?".
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from payer_model.data.schema import PII_COLUMNS

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL,
    as_of TEXT NOT NULL,
    segment TEXT,
    policy_version TEXT,
    model_version TEXT,
    reasons TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL DEFAULT 'batch',
    request_id TEXT,
    key_id TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_customer ON decisions (customer_id, as_of);
CREATE INDEX IF NOT EXISTS decisions_created ON decisions (created_at);
"""
COLUMNS: tuple[str, ...] = (
    "id",
    "customer_id",
    "as_of",
    "segment",
    "policy_version",
    "model_version",
    "reasons",
    "source",
    "request_id",
    "key_id",
    "payload",
    "created_at",
)


def _scrub(obj: Any) -> Any:
    """Drop PII keys (name, email) at any depth of a JSON-like payload."""
    if obj is None or isinstance(obj, str | float | int):  # most nodes: leave before the ABC
        return obj
    if isinstance(obj, Mapping):
        return {k: _scrub(v) for k, v in obj.items() if k not in PII_COLUMNS}
    if isinstance(obj, list | tuple):
        return [_scrub(v) for v in obj]
    return obj


_PII_KEYS = tuple(f'"{c}":' for c in sorted(PII_COLUMNS))


def _json_without_pii(obj: Any) -> str:
    """JSON text of ``obj`` with PII keys removed at any depth.

    The text is searched first (C speed): only a payload that may hold a PII key is walked
    and scrubbed, so clean payloads — all of the API's — cost one ``json.dumps``.
    """
    text = json.dumps(obj, default=str)
    if any(key in text for key in _PII_KEYS):
        text = json.dumps(_scrub(obj), default=str)
    return text


class AuditStore:
    """Append-only decision log in SQLite (WAL, so readers never block the writer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def _writer(self) -> sqlite3.Connection:
        """This thread's long-lived connection (opened once; reopened after a fork)."""
        con, pid = getattr(self._local, "con", None), getattr(self._local, "pid", None)
        if con is None or pid != os.getpid():
            con = self._local.con = self._connect()
            self._local.pid = os.getpid()
        return con

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(_SCHEMA)
        return con

    def record_decisions(self, rows: Iterable[Mapping[str, Any]], source: str = "batch") -> int:
        """Append decisions; each row needs ``customer_id`` and ``as_of``.

        Optional keys: segment, policy_version, model_version, reasons (list), request_id,
        key_id, payload (dict), source, created_at. Names and emails are removed.

        Returns:
            Number of rows written.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        values = []
        for r in rows:
            values.append(
                (
                    str(r["customer_id"]),
                    str(r["as_of"]),
                    r.get("segment"),
                    r.get("policy_version"),
                    None if r.get("model_version") is None else str(r.get("model_version")),
                    _json_without_pii(list(r.get("reasons") or [])),
                    r.get("source", source),
                    r.get("request_id"),
                    r.get("key_id"),
                    _json_without_pii(dict(r.get("payload") or {})),
                    r.get("created_at", now),
                )
            )
        # committed before the caller answers: a 2xx is never lost to a worker kill
        with self._writer() as con:
            con.executemany(
                "INSERT INTO decisions (customer_id, as_of, segment, policy_version, "
                "model_version, reasons, source, request_id, key_id, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        log.info("audit: recorded %d decisions in %s", len(values), self.path)
        return len(values)

    def query(
        self, customer_id: str | None = None, as_of: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Decisions, newest first, optionally for one customer and/or one as_of date."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM decisions"
        where, args = [], []
        if customer_id is not None:
            where.append("customer_id = ?")
            args.append(str(customer_id))
        if as_of is not None:
            where.append("as_of = ?")
            args.append(str(as_of))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        con.close()
        out = []
        for row in rows:
            d = dict(zip(COLUMNS, row, strict=True))
            d["reasons"] = json.loads(d["reasons"])
            d["payload"] = json.loads(d["payload"])
            out.append(d)
        return out

    def prune(self, older_than_days: int) -> int:
        """Delete decisions recorded more than ``older_than_days`` ago; returns the count."""
        cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).isoformat(
            timespec="seconds"
        )
        with self._connect() as con:
            n = con.execute("DELETE FROM decisions WHERE created_at < ?", (cutoff,)).rowcount
        con.close()
        return n
