"""The ledger's work tables: customer state, alerts, outbox, collector assignments, reviews.

Functions over a :class:`~payer_model.adapters.ledger.LedgerStore`; JSON columns go in and
come out as Python objects. Each write is one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from payer_model.adapters import ledger_tables as t
from payer_model.adapters.ledger import chunks, now

_STATE_JSON = ("reasons", "features", "decision")
_ALERT_JSON = ("before", "after", "reasons", "event_ids")


def _dump(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=str)


def _row(r: Any, json_cols: Sequence[str]) -> dict[str, Any]:
    d = dict(r._mapping)
    for c in json_cols:
        if c in d and d[c] is not None:
            d[c] = json.loads(d[c])
    return d


# ---------------------------------------------------------------------- state
def load_states(store, customer_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Stored states by customer id (all when ``customer_ids`` is None)."""
    out = {}
    with store.engine.connect() as con:
        if customer_ids is None:
            rows = list(con.execute(sa.select(t.customer_state)))
        else:
            rows = []
            for ids in chunks(customer_ids):
                q = sa.select(t.customer_state).where(t.customer_state.c.customer_id.in_(ids))
                rows += list(con.execute(q))
    for r in rows:
        d = _row(r, _STATE_JSON)
        out[d["customer_id"]] = d
    return out


def save_states(store, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the states of the given customers (one transaction)."""
    with store.writing() as con:
        write_states(con, rows)


def write_states(con, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the states of the given customers inside the open transaction ``con``."""
    cols = [c.name for c in t.customer_state.columns]
    at = now()
    values = [
        {c: (_dump(r[c]) if c in _STATE_JSON else r.get(c)) for c in cols if c != "updated_at"}
        | {"updated_at": at}
        for r in rows
    ]
    for ids in chunks([v["customer_id"] for v in values]):
        con.execute(sa.delete(t.customer_state).where(t.customer_state.c.customer_id.in_(ids)))
    if values:
        con.execute(sa.insert(t.customer_state), values)


def save_rescored(
    store,
    rows: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    reviews: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """States, new alerts and review items of one rescoring in one transaction.

    The same as :func:`save_states`, :func:`add_alerts` and :func:`add_reviews` one after
    the other, with one lock and one commit (fewer round trips on PostgreSQL).

    Returns:
        The alerts actually added.
    """
    with store.writing() as con:
        write_states(con, rows)
        fresh = write_alerts(con, alerts)
        write_reviews(con, reviews)
    return fresh


def state_versions(store) -> dict[str, tuple[date, str | None, str | None]]:
    """(as-of, model version, policy version) of every stored state."""
    c = t.customer_state.c
    q = sa.select(c.customer_id, c.as_of, c.model_version, c.policy_version)
    with store.engine.connect() as con:
        return {cid: (day, mv, pv) for cid, day, mv, pv in con.execute(q)}


# ---------------------------------------------------------------------- alerts
def add_alerts(store, alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Store new alerts; an alert whose key is already stored is skipped (dedup).

    Returns:
        The alerts actually added.
    """
    if not alerts:
        return []
    with store.writing() as con:
        return write_alerts(con, alerts)


def write_alerts(con, alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`add_alerts` inside the open transaction ``con``."""
    if not alerts:
        return []
    keys = [a["alert_key"] for a in alerts]
    known = set()
    for ids in chunks(keys):
        q = sa.select(t.alerts.c.alert_key).where(t.alerts.c.alert_key.in_(ids))
        known |= set(con.scalars(q))
    fresh, seen = [], set()
    for a in alerts:
        if a["alert_key"] in known or a["alert_key"] in seen:
            continue
        seen.add(a["alert_key"])
        fresh.append(dict(a))
    if fresh:
        at = now()
        con.execute(
            sa.insert(t.alerts),
            [
                {k: (_dump(v) if k in _ALERT_JSON else v) for k, v in a.items()}
                | {"created_at": at}
                for a in fresh
            ],  # fmt: skip
        )
    return fresh


def list_alerts(store, since: datetime | date | None = None, limit: int = 1000) -> list[dict]:
    """Alerts created at or after ``since`` (all when None), oldest first."""
    q = sa.select(t.alerts).order_by(t.alerts.c.id).limit(limit)
    if since is not None:
        if not isinstance(since, datetime):
            since = datetime(since.year, since.month, since.day)
        q = q.where(t.alerts.c.created_at >= since)
    with store.engine.connect() as con:
        return [_row(r, _ALERT_JSON) for r in con.execute(q)]


# ---------------------------------------------------------------------- outbox
def plan_messages(store, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Add planned messages as ``pending``; a message id already in the outbox is kept as is.

    Returns:
        The messages added.
    """
    if not messages:
        return []
    with store.writing() as con:
        known = set()
        for ids in chunks([m["message_id"] for m in messages]):
            q = sa.select(t.outbox.c.message_id).where(t.outbox.c.message_id.in_(ids))
            known |= set(con.scalars(q))
        at = now()
        rows, links, added = [], [], []
        for m in messages:
            if m["message_id"] in known:
                continue
            known.add(m["message_id"])
            added.append(dict(m))
            rows.append({**m, "invoice_ids": _dump(list(m["invoice_ids"])), "status": "pending",
                         "created_at": at, "updated_at": at})  # fmt: skip
            links += [{"message_id": m["message_id"], "invoice_id": i} for i in m["invoice_ids"]]
        if rows:
            con.execute(sa.insert(t.outbox), rows)
            con.execute(sa.insert(t.outbox_invoices), links)
    return added


def cancel_messages(store, invoice_ids: Iterable[str], reason: str) -> list[dict[str, Any]]:
    """Cancel the pending messages about any of ``invoice_ids``.

    Returns:
        ``message_id``, ``customer_id``, ``channel`` of each cancelled message.
    """
    invoice_ids = set(invoice_ids)
    if not invoice_ids:
        return []
    found: dict[str, dict[str, Any]] = {}
    with store.writing() as con:
        for ids in chunks(invoice_ids):
            q = (
                sa.select(t.outbox.c.message_id, t.outbox.c.customer_id, t.outbox.c.channel)
                .join(t.outbox_invoices, t.outbox_invoices.c.message_id == t.outbox.c.message_id)
                .where(t.outbox_invoices.c.invoice_id.in_(ids), t.outbox.c.status == "pending")
            )
            for r in con.execute(q):
                found[r.message_id] = dict(r._mapping)
        cancelled = list(found)
        for ids in chunks(cancelled):
            con.execute(
                sa.update(t.outbox)
                .where(t.outbox.c.message_id.in_(ids))
                .values(status="cancelled", status_reason=reason, updated_at=now())
            )
    return list(found.values())


def list_messages(
    store, *, due_on: date | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Outbox messages (due on or before ``due_on``, with ``status``), by due date and id."""
    q = sa.select(t.outbox).order_by(t.outbox.c.due_date, t.outbox.c.message_id)
    if due_on is not None:
        q = q.where(t.outbox.c.due_date <= due_on)
    if status is not None:
        q = q.where(t.outbox.c.status == status)
    with store.engine.connect() as con:
        return [_row(r, ("invoice_ids",)) for r in con.execute(q)]


def mark_message(store, message_id: str, status: str, reason: str | None = None) -> None:
    """Set a message's status (``sent``, ``failed``, ...)."""
    with store.writing() as con:
        con.execute(
            sa.update(t.outbox)
            .where(t.outbox.c.message_id == message_id)
            .values(status=status, status_reason=reason, updated_at=now())
        )


# ---------------------------------------------------------------------- assignments
def assignments(store) -> dict[str, str]:
    """Collector per customer."""
    q = sa.select(t.assignments.c.customer_id, t.assignments.c.collector)
    with store.engine.connect() as con:
        return dict(con.execute(q).all())


def collector_of(store, customer_id: str) -> str | None:
    """The collector of one customer (None when unassigned)."""
    q = sa.select(t.assignments.c.collector).where(t.assignments.c.customer_id == customer_id)
    with store.engine.connect() as con:
        return con.scalar(q)


def assign(store, moves: Mapping[str, str], reason: str) -> None:
    """Set the collector of customers, with the reason (a rule or a person's move)."""
    at = now()
    with store.writing() as con:
        for ids in chunks(list(moves)):
            con.execute(sa.delete(t.assignments).where(t.assignments.c.customer_id.in_(ids)))
        if moves:
            con.execute(
                sa.insert(t.assignments),
                [
                    {"customer_id": c, "collector": k, "assigned_at": at, "reason": reason}
                    for c, k in moves.items()
                ],  # fmt: skip
            )


# ---------------------------------------------------------------------- reviews
def add_reviews(store, items: Sequence[Mapping[str, Any]]) -> int:
    """Queue credit actions for human review; the same (customer, action, as-of) once."""
    if not items:
        return 0
    with store.writing() as con:
        return write_reviews(con, items)


def write_reviews(con, items: Sequence[Mapping[str, Any]]) -> int:
    """:func:`add_reviews` inside the open transaction ``con``."""
    if not items:
        return 0
    known = set()
    for ids in chunks([i["review_key"] for i in items]):
        q = sa.select(t.reviews.c.review_key).where(t.reviews.c.review_key.in_(ids))
        known |= set(con.scalars(q))
    rows = []
    for i in items:
        if i["review_key"] in known:
            continue
        known.add(i["review_key"])
        rows.append({**i, "details": _dump(i["details"]), "status": "pending",
                     "created_at": now()})  # fmt: skip
    if rows:
        con.execute(sa.insert(t.reviews), rows)
    return len(rows)


def list_reviews(store, status: str | None = "pending") -> list[dict[str, Any]]:
    """Reviews (pending by default), oldest first."""
    q = sa.select(t.reviews).order_by(t.reviews.c.id)
    if status is not None:
        q = q.where(t.reviews.c.status == status)
    with store.engine.connect() as con:
        return [_row(r, ("details",)) for r in con.execute(q)]


def decide_review(store, review_id: int, status: str, who: str, why: str) -> dict | None:
    """Approve or reject a pending review: who, when and why are recorded.

    Returns:
        The updated review, or None when no pending review has that id.
    """
    with store.writing() as con:
        res = con.execute(
            sa.update(t.reviews)
            .where(t.reviews.c.id == review_id, t.reviews.c.status == "pending")
            .values(status=status, decided_by=who, decided_at=now(), why=why)
        )
        if res.rowcount == 0:
            return None
        row = con.execute(sa.select(t.reviews).where(t.reviews.c.id == review_id)).one()
    return _row(row, ("details",))
