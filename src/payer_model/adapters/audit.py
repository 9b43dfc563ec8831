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
import time
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


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _store_problem(exc: BaseException) -> str:
    """A short reason for an unusable store, without paths."""
    text = str(exc).lower()
    if "full" in text or getattr(exc, "errno", None) == 28:
        return "audit store full (no space left on its disk)"
    if "readonly" in text or "read-only" in text or getattr(exc, "errno", None) in (13, 30):
        return "audit store is read-only"
    return f"audit store unwritable ({type(exc).__name__})"


class AuditUnavailable(RuntimeError):
    """The store could not record a decision (unwritable, full, or locked past the wait).

    Nothing was written: the caller must not hand out the decision. ``str(e)`` says why
    without paths or tracebacks; ``busy`` tells a lock (retry soon) from a broken store.
    """

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


_PROBE_EVERY_S = 2.0


class AuditStore:
    """Append-only decision log in SQLite (WAL, so readers never block the writer).

    Args:
        path: the SQLite file.
        timeout_s: how long a write waits for another writer's lock before it gives up
            (:class:`AuditUnavailable`, nothing written). Keep it well under the client's
            timeout, so a decision is never recorded after the client stopped waiting.
    """

    def __init__(self, path: str | Path, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._health: tuple[float, str | None] = (0.0, None)

    def problem(self) -> str | None:
        """Why the store cannot take writes now (None when it can); probed every 2 s.

        A write transaction is opened and rolled back; a lock held by another writer is not
        a problem (writes wait for it), an unwritable or full store is.
        """
        checked, why = self._health
        if time.monotonic() - checked < _PROBE_EVERY_S:
            return why
        try:  # a fresh connection that never waits: a probe must not block on a lock
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=0, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
            finally:
                con.close()
            why = None
        except sqlite3.OperationalError as exc:
            why = None if _is_busy(exc) else _store_problem(exc)
        except (sqlite3.Error, OSError) as exc:
            why = _store_problem(exc)
        if why is not None:
            self._local.con = None  # reconnect on the next try (the file may come back)
        self._health = (time.monotonic(), why)
        return why

    def _writer(self) -> sqlite3.Connection:
        """This thread's long-lived connection (opened once; reopened after a fork)."""
        con, pid = getattr(self._local, "con", None), getattr(self._local, "pid", None)
        if con is None or pid != os.getpid():
            con = self._local.con = self._connect()
            self._local.pid = os.getpid()
        return con

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=self.timeout_s)
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

        Raises:
            AuditUnavailable: nothing was written (store unwritable, full, or locked by
                another writer for longer than ``timeout_s``).
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
        # committed before the caller answers: a 2xx is never lost to a worker kill; a
        # failed commit is rolled back whole, so no decision is recorded that was not given
        try:
            with self._writer() as con:
                con.executemany(
                    "INSERT INTO decisions (customer_id, as_of, segment, policy_version, "
                    "model_version, reasons, source, request_id, key_id, payload, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise AuditUnavailable(
                    f"audit store busy: another writer held it for over {self.timeout_s:g} s",
                    busy=True,
                ) from None
            self._failed(exc)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
        log.info("audit: recorded %d decisions in %s", len(values), self.path)
        return len(values)

    def _failed(self, exc: BaseException) -> None:
        why = _store_problem(exc)
        self._local.con = None
        self._health = (time.monotonic(), why)
        log.error("audit store %s: %s", self.path, why)
        raise AuditUnavailable(why) from None

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
