"""Segment policy over a portfolio: :func:`decide_all`, the decisions of every customer.

Invoices are filtered once with the as-of rule of :mod:`payer_model.features.asof` (open at
T: issued before T, neither paid nor written off before T), partial payments received
before T are netted, and the whole portfolio goes through
:func:`payer_model.policy.vector.decide_many` (the decisions of
:func:`~payer_model.policy.decide.decide` per customer, computed in one pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from payer_model.data.schema import PII_COLUMNS
from payer_model.features.asof import open_mask
from payer_model.policy.decide import Decision
from payer_model.policy.policies import PolicySet
from payer_model.policy.vector import decide_many, frame_records


def open_invoices_at(tables: Mapping[str, pd.DataFrame | None], t: pd.Timestamp) -> pd.DataFrame:
    """Invoices open at ``t``, with ``open_amount`` net of payments received before ``t``."""
    inv = tables["invoices"]
    open_inv = inv[open_mask(inv, t)]
    pay = tables.get("payments")
    if pay is not None and len(pay):
        # partial payments received before T reduce what is still owed
        pay = pay[pd.to_datetime(pay["payment_date"]) < t]
        paid_before = pay.groupby(pay["invoice_id"].astype(str))["amount"].sum()
        got = open_inv["invoice_id"].astype(str).map(paid_before).fillna(0.0).to_numpy()
        open_inv = open_inv.assign(open_amount=open_inv["amount"].astype(float) - got)
    return open_inv


def _owned_reminders(
    reminders: pd.DataFrame | None, open_inv: pd.DataFrame, t: pd.Timestamp
) -> pd.DataFrame | None:
    """Reminders sent before ``t`` of the open invoices, each for its invoice's customer."""
    if reminders is None or not len(reminders):
        return None
    rem = reminders[pd.to_datetime(reminders["sent_date"]) < t]
    rem = rem[rem["invoice_id"].isin(open_inv["invoice_id"])]
    owner = dict(zip(open_inv["invoice_id"], open_inv["customer_id"], strict=True))
    return rem.assign(customer_id=rem["invoice_id"].map(owner).astype(str))


def decide_all(
    tables: Mapping[str, pd.DataFrame | None],
    scored: pd.DataFrame | Iterable[Mapping[str, Any]],
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    invoice_predictions: pd.DataFrame | None = None,
) -> list[Decision]:
    """The decision of every customer of ``scored`` (ratings merged with features).

    Only invoices open at ``as_of`` are looked at, and the portfolio is decided in one pass
    (:func:`~payer_model.policy.vector.decide_many`). ``invoice_predictions``
    (``invoice_id``, ``p_late``, ``band`` of the invoice model at ``as_of``) let band rules
    apply and rank customers by expected overdue amount.
    """
    t = pd.Timestamp(as_of).normalize()
    inv = tables["invoices"]
    open_inv = open_invoices_at(tables, t)
    if invoice_predictions is not None and len(invoice_predictions):
        pred = invoice_predictions[["invoice_id", "p_late", "band"]].astype({"invoice_id": str})
        open_inv = open_inv.assign(invoice_id=open_inv["invoice_id"].astype(str)).merge(
            pred, on="invoice_id", how="left"
        )
    rem = _owned_reminders(tables.get("reminders"), open_inv, t)
    cust = tables.get("customers")
    cust_by = {str(r["customer_id"]): r for r in frame_records(cust)} if cust is not None else {}
    rows = frame_records(scored) if isinstance(scored, pd.DataFrame) else list(scored)
    customers = []
    for row in rows:
        cid = str(row["customer_id"])
        c = cust_by.get(cid, {"customer_id": cid})
        customers.append({k: v for k, v in c.items() if k not in PII_COLUMNS})
    open_inv = open_inv if len(open_inv) else inv.iloc[:0]
    return decide_many(customers, rows, open_inv, t, policies, rem)
