"""The ledger store (SQLAlchemy Core): events in, contract tables and customer state out.

SQLite is the embedded default (a file, zero setup); PostgreSQL lets several API instances
share one state. The schema comes from the Alembic migrations shipped in
``adapters/migrations`` (:meth:`LedgerStore.upgrade` runs them on open).

:meth:`LedgerStore.append` takes one batch of raw events: each bad one goes to the
quarantine with its reason, replays of stored event ids are skipped (idempotent), and the
good ones, the contract rows they change (re-folded from every event of each touched
invoice, see :mod:`payer_model.live.fold`) and the quarantine rows are committed in one
transaction. Contact emails go to their own table and only address messages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from payer_model.adapters import ledger_tables as t
from payer_model.live.events import (
    STOPPING_OUTCOMES,
    InvoiceFacts,
    InvoiceIssued,
    PaymentReceived,
    ReminderOutcome,
    check_context,
    event_hash,
    event_payload,
    facts_of,
    load_event,
    parse_event,
    split_contact,
)
from payer_model.live.fold import fold_customer, fold_invoice

log = logging.getLogger(__name__)

LOCK_KEY = 7_215_015
"""PostgreSQL advisory lock id of the ledger's writers."""
CHUNK = 500
"""Ids per IN (...) list: well under every backend's parameter limit."""
MIGRATIONS = Path(__file__).parent / "migrations"


def now() -> datetime:
    """UTC now without tzinfo (what the DateTime columns hold)."""
    return datetime.now(UTC).replace(tzinfo=None)


def chunks(ids: Iterable[str], size: int = CHUNK) -> Iterable[list[str]]:
    """``ids`` in lists of at most ``size``."""
    items = list(ids)
    for k in range(0, len(items), size):
        yield items[k : k + size]


def sqlite_url(folder: str | Path) -> str:
    """The default ledger URL: ``ledger.db`` in ``folder``."""
    return f"sqlite:///{Path(folder) / 'ledger.db'}"


@dataclass
class AppendResult:
    """What one batch did."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, list[str]] = field(default_factory=dict)
    """Touched customer -> ids of the accepted events that touched it."""
    stopped_invoices: set[str] = field(default_factory=set)
    """Invoices whose pending messages stop: paid, disputed, promised."""

    def summary(self) -> dict[str, Any]:
        """Counts, and the quarantined events with their reasons (JSON types)."""
        return {
            "accepted": len(self.accepted),
            "duplicates": len(self.duplicates),
            "quarantined": len(self.quarantined),
            "customers_touched": len(self.customers),
            "quarantine": self.quarantined[:100],
        }


class LedgerStore:
    """Ledger tables behind one SQLAlchemy engine.

    Args:
        url: SQLAlchemy URL (``sqlite:///path/ledger.db``, ``postgresql+psycopg://...``).
        upgrade: run the migrations to head on open.
    """

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        kw: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kw["connect_args"] = {"timeout": 30}
        self.engine = sa.create_engine(url, **kw)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        if upgrade:
            self.upgrade()

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """One write transaction, serialised with every other writer of the ledger.

        Several processes (API workers, instances, a CLI job) may write at once: SQLite takes
        its write lock when the transaction begins (``BEGIN IMMEDIATE``), PostgreSQL takes
        a transaction-level advisory lock, so a check-then-insert never races another.
        """
        with self.engine.connect() as con:
            con.execution_options(ledger_write=True)
            with con.begin():
                if con.dialect.name == "postgresql":
                    con.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
                yield con

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.writing() as con:
            cfg.attributes["connection"] = con
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ events in
    def append(self, raw_events: Sequence[Any]) -> AppendResult:
        """Validate and store one batch atomically; see the module docstring.

        Returns:
            Accepted and duplicate event ids, quarantined events with reasons, touched
            customers with their causing event ids, invoices whose messages stop.
        """
        res = AppendResult()
        parsed: list[tuple[Any, dict[str, Any], str]] = []
        contacts: dict[str, tuple[str, str]] = {}
        bad: list[tuple[Any, str]] = []
        for raw in raw_events:
            clean, email = split_contact(raw) if isinstance(raw, dict) else (raw, None)
            event, reason = parse_event(raw)
            if event is None:
                bad.append((clean, reason))
                continue
            payload = event_payload(event)
            parsed.append((event, payload, event_hash(payload)))
            if email:
                contacts[event.event_id] = (event.customer_id, email)
        with self.writing() as con:
            good = self._new_events(con, parsed, res, bad)
            self._check(con, good, bad)
            good = [g for g in good if not g[3]]
            self._insert(con, [g[:3] for g in good], res)
            self._quarantine(con, bad, res)
            accepted = set(res.accepted)  # a quarantined event's contact is not kept
            self._contacts(con, dict(v for k, v in contacts.items() if k in accepted))
            self._refold(con, res)
        return res

    def _new_events(self, con, parsed, res: AppendResult, bad) -> list[list[Any]]:
        """Events not stored yet; replays skipped, reused ids with new content refused."""
        stored: dict[str, str] = {}
        for ids in chunks({e.event_id for e, _, _ in parsed}):
            q = sa.select(t.events.c.event_id, t.events.c.payload_hash)
            stored.update(con.execute(q.where(t.events.c.event_id.in_(ids))).all())
        seen: dict[str, str] = {}
        good = []
        for event, payload, digest in parsed:
            known = stored.get(event.event_id) or seen.get(event.event_id)
            if known == digest:
                res.duplicates.append(event.event_id)
            elif known is not None:
                bad.append((payload, "event_id_reused: event_id: already used by another event"))
            else:
                seen[event.event_id] = digest
                good.append([event, payload, digest, None])
        return good

    def _check(self, con, good: list[list[Any]], bad: list) -> None:
        """Context rules (customer of the invoice, dates): a failing event is marked bad."""
        named = {i for g in good for i in g[0].invoice_ids}
        facts = self.invoice_facts(con, named)
        issued_by: dict[str, str] = self._issuers(con, named)
        batch = facts_of(g[0] for g in good)
        for g in good:
            e = g[0]
            if isinstance(e, InvoiceIssued):
                first = issued_by.setdefault(e.invoice_id, e.event_id)
                if first != e.event_id:
                    g[3] = "invoice_reissued: invoice_id: issued by event " + first
            else:
                g[3] = check_context(e, {**batch, **facts})
            if g[3]:
                bad.append((g[1], g[3]))

    @staticmethod
    def _issuers(con, invoice_ids: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for ids in chunks(invoice_ids):
            q = (
                sa.select(t.event_invoices.c.invoice_id, t.events.c.event_id)
                .join(t.events, t.events.c.event_id == t.event_invoices.c.event_id)
                .where(t.event_invoices.c.invoice_id.in_(ids), t.events.c.type == "invoice_issued")
            )
            out.update(con.execute(q).all())
        return out

    @staticmethod
    def invoice_facts(con, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]:
        """Customer and invoice date of stored invoices."""
        out = {}
        for ids in chunks(invoice_ids):
            q = sa.select(
                t.invoices.c.invoice_id, t.invoices.c.customer_id, t.invoices.c.invoice_date
            )
            for iid, cid, day in con.execute(q.where(t.invoices.c.invoice_id.in_(ids))):
                out[iid] = InvoiceFacts(customer_id=cid, invoice_date=day)
        return out

    def _insert(self, con, good: list[list[Any]], res: AppendResult) -> None:
        if not good:
            return
        at = now()
        con.execute(
            sa.insert(t.events),
            [
                {
                    "event_id": e.event_id,
                    "type": e.type,
                    "customer_id": e.customer_id,
                    "event_date": e.day,
                    "payload": json.dumps(p, sort_keys=True),
                    "payload_hash": h,
                    "received_at": at,
                }
                for e, p, h in good
            ],
        )
        links = [
            {"event_id": e.event_id, "invoice_id": i} for e, _, _ in good for i in e.invoice_ids
        ]
        if links:
            con.execute(sa.insert(t.event_invoices), links)
        for e, _, _ in good:
            res.accepted.append(e.event_id)
            res.customers.setdefault(e.customer_id, []).append(e.event_id)
            if isinstance(e, PaymentReceived) or (
                isinstance(e, ReminderOutcome) and e.outcome in STOPPING_OUTCOMES
            ):
                res.stopped_invoices.update(e.invoice_ids)

    @staticmethod
    def _quarantine(con, bad: list[tuple[Any, str]], res: AppendResult) -> None:
        if not bad:
            return
        at = now()
        rows = []
        for payload, reason in bad:
            eid = payload.get("event_id") if isinstance(payload, dict) else None
            rows.append(
                {
                    "event_id": None if eid is None else str(eid)[:128],
                    "reason": reason,
                    "payload": json.dumps(payload, sort_keys=True, default=str),
                    "received_at": at,
                }
            )
            res.quarantined.append({"event_id": rows[-1]["event_id"], "reason": reason})
        con.execute(sa.insert(t.quarantine), rows)

    @staticmethod
    def _contacts(con, contacts: dict[str, str]) -> None:
        for cid, email in contacts.items():
            con.execute(sa.delete(t.contacts).where(t.contacts.c.customer_id == cid))
            con.execute(sa.insert(t.contacts), {"customer_id": cid, "email": email})

    def _refold(self, con, res: AppendResult) -> None:
        """Re-derive the rows of every invoice and customer the accepted events touch."""
        keys: set[str] = set()
        customers: set[str] = set()
        for ids in chunks(res.accepted):
            q = sa.select(t.event_invoices.c.invoice_id).where(
                t.event_invoices.c.event_id.in_(ids)
            )
            keys.update(con.scalars(q))
            q = sa.select(t.events.c.customer_id, t.events.c.type).where(
                t.events.c.event_id.in_(ids)
            )
            customers.update(c for c, kind in con.execute(q) if kind == "customer_registered")
        by_key = self._events_of_invoices(con, keys)
        inv_rows, pay_rows, rem_rows = [], [], []
        for key in keys:
            rows = fold_invoice(key, by_key.get(key, []))
            if rows.invoice is not None:
                inv_rows.append({**rows.invoice, "ledger_key": key})
            inv_rows.extend({**c, "ledger_key": key} for c in rows.credit_notes)
            pay_rows += rows.payments
            rem_rows += rows.reminders
        for ids in chunks(keys):
            con.execute(sa.delete(t.invoices).where(t.invoices.c.ledger_key.in_(ids)))
            con.execute(sa.delete(t.payments).where(t.payments.c.invoice_id.in_(ids)))
            con.execute(sa.delete(t.reminders).where(t.reminders.c.invoice_id.in_(ids)))
        for table, rows in (
            (t.invoices, inv_rows),
            (t.payments, pay_rows),
            (t.reminders, rem_rows),
        ):
            if rows:
                con.execute(sa.insert(table), rows)
        self._refold_customers(con, customers | {r["customer_id"] for r in inv_rows})

    @staticmethod
    def _events_of_invoices(con, keys: Iterable[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for ids in chunks(keys):
            q = (
                sa.select(t.event_invoices.c.invoice_id, t.events.c.payload)
                .join(t.events, t.events.c.event_id == t.event_invoices.c.event_id)
                .where(t.event_invoices.c.invoice_id.in_(ids))
            )
            for iid, payload in con.execute(q):
                out.setdefault(iid, []).append(load_event(json.loads(payload)))
        return out

    @staticmethod
    def _refold_customers(con, customer_ids: set[str]) -> None:
        regs: dict[str, list[Any]] = {}
        for ids in chunks(customer_ids):
            q = sa.select(t.events.c.customer_id, t.events.c.payload).where(
                t.events.c.customer_id.in_(ids), t.events.c.type == "customer_registered"
            )
            for cid, payload in con.execute(q):
                regs.setdefault(cid, []).append(load_event(json.loads(payload)))
        rows = [fold_customer(cid, regs.get(cid, [])) for cid in customer_ids]
        for ids in chunks(customer_ids):
            con.execute(sa.delete(t.customers).where(t.customers.c.customer_id.in_(ids)))
        if rows:
            con.execute(sa.insert(t.customers), rows)

    # ------------------------------------------------------------------ reading
    def tables(self, customer_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """Contract tables (pandas, the contract's columns and dtypes) of some or all customers."""
        from payer_model.live.tables import contract_frames

        return contract_frames(self.rows(customer_ids))

    def rows(self, customer_ids: Iterable[str] | None = None) -> dict[str, list[dict]]:
        """Rows of the four contract tables (dicts) of some or all customers."""
        with self.engine.connect() as con:
            data = {}
            for name, table in (
                ("customers", t.customers),
                ("invoices", t.invoices),
                ("payments", t.payments),
                ("reminders", t.reminders),
            ):
                data[name] = self._select(con, table, customer_ids)
        return data

    def columns(self, customer_ids: Iterable[str]) -> dict[str, dict[str, list]]:
        """Rows of the four contract tables of some customers, as lists per column.

        The same values as :meth:`rows`, without a dict per row (the refresh reads a few
        thousand customers at a time this way).
        """
        ids = list(customer_ids)
        out: dict[str, dict[str, list]] = {}
        with self.engine.connect() as con:
            for name, table in (
                ("customers", t.customers),
                ("invoices", t.invoices),
                ("payments", t.payments),
                ("reminders", t.reminders),
            ):
                keys = [c.name for c in table.columns]
                rows: list[Any] = []
                for part in chunks(ids):
                    rows += con.execute(sa.select(table).where(table.c.customer_id.in_(part)))
                cols = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
                out[name] = {k: list(v) for k, v in zip(keys, cols, strict=True)}
        return out

    @staticmethod
    def _select(con, table: sa.Table, customer_ids: Iterable[str] | None) -> list[dict]:
        keys = [c.name for c in table.columns]
        if customer_ids is None:
            return [dict(zip(keys, r, strict=True)) for r in con.execute(sa.select(table))]
        rows: list[dict] = []
        ids = list(customer_ids)
        if len(ids) == 1:  # one customer (an event's rescoring, the view): one plain query
            q = sa.select(table).where(table.c.customer_id == ids[0])
            return [dict(zip(keys, r, strict=True)) for r in con.execute(q)]
        for part in chunks(ids):
            q = sa.select(table).where(table.c.customer_id.in_(part))
            rows += [dict(zip(keys, r, strict=True)) for r in con.execute(q)]
        return rows

    def customer_ids(self) -> list[str]:
        """Every customer of the ledger."""
        with self.engine.connect() as con:
            return sorted(con.scalars(sa.select(t.customers.c.customer_id)))

    def quarantined(self, limit: int = 100) -> list[dict[str, Any]]:
        """Quarantined events, newest first."""
        q = sa.select(t.quarantine).order_by(t.quarantine.c.id.desc()).limit(limit)
        with self.engine.connect() as con:
            return [dict(r._mapping) for r in con.execute(q)]

    def count(self, table: str) -> int:
        """Rows of one ledger table."""
        with self.engine.connect() as con:
            return int(
                con.scalar(sa.select(sa.func.count()).select_from(t.metadata.tables[table]))
            )

    def get_meta(self, key: str) -> str | None:
        """A ledger setting (e.g. the as-of of the last refresh)."""
        with self.engine.connect() as con:
            return con.scalar(sa.select(t.ledger_meta.c.value).where(t.ledger_meta.c.key == key))

    def set_meta(self, key: str, value: str) -> None:
        """Store a ledger setting."""
        with self.writing() as con:
            con.execute(sa.delete(t.ledger_meta).where(t.ledger_meta.c.key == key))
            con.execute(sa.insert(t.ledger_meta), {"key": key, "value": value})

    def contact(self, customer_id: str) -> str | None:
        """The email that addresses a customer's messages (never logged or stored elsewhere)."""
        with self.engine.connect() as con:
            q = sa.select(t.contacts.c.email).where(t.contacts.c.customer_id == customer_id)
            return con.scalar(q)


def _sqlite_pragmas(dbapi_con, _record) -> None:
    dbapi_con.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(con) -> None:
    """BEGIN for SQLite: IMMEDIATE (the write lock at once) for :meth:`LedgerStore.writing`."""
    write = con.get_execution_options().get("ledger_write", False)
    con.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


__all__ = ["AppendResult", "LedgerStore", "sqlite_url"]
