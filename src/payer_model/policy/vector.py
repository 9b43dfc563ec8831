"""The decision engine over a whole portfolio at once (the batch path of DESIGN §6).

:func:`decide_many` answers what :func:`payer_model.policy.decide.decide` answers, for many
customers in one pass: the as-of rule (:func:`~payer_model.policy.decide.known_invoices`,
:func:`~payer_model.features.asof.open_mask`) and the reminder history
(:func:`~payer_model.policy.decide.reminder_history`) run once on the portfolio's frames,
the invoices become plain records column by column, and each customer then goes through
the same rule pieces as the one-customer call
(:func:`~payer_model.policy.decide.decide_records`: stop reasons, due steps, band steps,
escalations, credit decision). No pandas runs per customer, and the decisions are the same
(a parity test holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import CUSTOMER_COLUMNS, INVOICE_COLUMNS, PII_COLUMNS
from payer_model.features.asof import is_open_at, known_at, open_mask
from payer_model.policy.decide import (
    Decision,
    amount_column,
    decide_records,
    history_of,
    known_invoices,
    reminder_history,
)
from payer_model.policy.policies import PolicySet

OWNER = "customer_id"
"""The column of ``invoices`` (and ``sent_reminders``) naming the customer a row belongs to."""


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` built column by column (the same values, faster)."""
    if not len(frame):
        return []
    cols = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*values, strict=True)]


def _group(keys: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for k, key in enumerate(keys):
        out.setdefault(key, []).append(k)
    return out


def decide_many(
    customers: Sequence[Mapping[str, Any]],
    rating_rows: Sequence[Mapping[str, Any]],
    invoices: pd.DataFrame | None,
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    sent_reminders: pd.DataFrame | None = None,
) -> list[Decision]:
    """Decisions for many customers at once; the same as :func:`decide` per customer.

    Args:
        customers: one customer row per decision (``customer_id``, ``customer_type``,
            ``industry``, ``credit_limit``, ...); names and emails are never read.
        rating_rows: rating, probabilities and feature values, aligned with ``customers``.
        invoices: the invoices of all these customers that may still be open at ``as_of``
            (the columns :func:`decide` takes, plus ``customer_id``).
        as_of: decision date; events on or after it are unknown.
        policies: validated policy set.
        sent_reminders: reminders already sent (``invoice_id``, ``customer_id``,
            ``sent_date``, ``channel``, optional ``outcome``); only those before ``as_of``
            count, each for the customer of its ``customer_id``.

    Returns:
        One :class:`Decision` per customer, in the order of ``customers``.
    """
    t = pd.Timestamp(as_of).normalize()
    inv = known_invoices(invoices, t)
    records = frame_records(inv)
    is_open = open_mask(inv, t).tolist() if len(inv) else []
    by_cust = _group(inv[OWNER].astype(str).tolist()) if len(inv) else {}
    sent, promises = reminder_history(sent_reminders, t)
    n_sent: dict[str, int] = {}
    if sent_reminders is not None and len(sent_reminders):
        before = (pd.to_datetime(sent_reminders["sent_date"]) < t).to_numpy()
        owners, counts = np.unique(
            sent_reminders.loc[before, OWNER].astype(str).to_numpy(dtype=object),
            return_counts=True,
        )
        n_sent = dict(zip(owners.tolist(), counts.tolist(), strict=True))
    amt_col = amount_column(inv)
    out = []
    for customer, rating_row in zip(customers, rating_rows, strict=True):
        cid = str(customer["customer_id"])
        rows = by_cust.get(cid, [])
        out.append(
            decide_records(
                customer,
                rating_row,
                [records[k] for k in rows],
                [is_open[k] for k in rows],
                t,
                policies,
                sent,
                promises,
                n_sent.get(cid, 0),
                amt_col,
            )  # fmt: skip
        )
    return out


def decide_rows(
    data: Mapping[str, Sequence[Mapping[str, Any]]],
    rating_rows: Sequence[Mapping[str, Any]],
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
) -> list[Decision]:
    """:func:`payer_model.policy.segment.decide_all` from ledger rows, without pandas.

    For a few customers (an event's rescoring) building frames costs more than deciding:
    this prepares the same records from row dicts (``customers``, ``invoices``,
    ``payments``, ``reminders``; dates as :class:`datetime.date`) with the scalar as-of rule
    (:func:`~payer_model.features.asof.is_open_at`) and the same netting of partial
    payments received before ``as_of``, then runs the same
    :func:`~payer_model.policy.decide.decide_records` (a parity test holds both paths equal).

    Args:
        data: rows per contract table of the customers to decide.
        rating_rows: rating, probabilities and feature values, one per customer decided.
        as_of: decision date.
        policies: validated policy set.

    Returns:
        One :class:`Decision` per row of ``rating_rows``.
    """
    t = pd.Timestamp(as_of).normalize()
    day = t.date()
    paid: dict[str, float] = {}
    for p in data.get("payments", ()):
        if known_at(_day(p["payment_date"]), day):
            iid = str(p["invoice_id"])
            paid[iid] = paid.get(iid, 0.0) + float(p["amount"])
    owner: dict[str, str] = {}
    by_cust: dict[str, list[dict[str, Any]]] = {}
    for r in data.get("invoices", ()):
        if not is_open_at(_day(r["invoice_date"]), _day(r.get("paid_date")),
                          _day(r.get("written_off_date")), day):  # fmt: skip
            continue
        iid, cid = str(r["invoice_id"]), str(r["customer_id"])
        owner.setdefault(iid, cid)
        if r.get("document_type") == "credit_note":
            continue
        rec = {c: r.get(c) for c in INVOICE_COLUMNS}
        rec["disputed"] = bool(rec["disputed"])
        rec["open_amount"] = float(r["amount"]) - paid.get(iid, 0.0)
        by_cust.setdefault(cid, []).append(rec)
    sent_rows = []
    n_sent: dict[str, int] = {}
    for r in data.get("reminders", ()):
        iid = str(r["invoice_id"])
        sd = pd.Timestamp(r["sent_date"])
        if iid in owner and sd < t:
            sent_rows.append((iid, sd, str(r["channel"]), r.get("outcome")))
            n_sent[owner[iid]] = n_sent.get(owner[iid], 0) + 1
    sent, promises = history_of(sent_rows)
    cust_by = {
        str(c["customer_id"]): {k: c.get(k) for k in CUSTOMER_COLUMNS if k not in PII_COLUMNS}
        for c in data.get("customers", ())
    }
    out = []
    for row in rating_rows:
        cid = str(row["customer_id"])
        recs = by_cust.get(cid, [])
        out.append(
            decide_records(
                cust_by.get(cid, {"customer_id": cid}),
                row,
                recs,
                [True] * len(recs),
                t,
                policies,
                sent,
                promises,
                n_sent.get(cid, 0),
                "open_amount",
            )  # fmt: skip
        )
    return out


def _day(v: Any) -> date | None:
    if v is None:
        return None
    return v.date() if isinstance(v, datetime) else v
