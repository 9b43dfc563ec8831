"""Segment policy over a portfolio: :func:`decide_all` runs :func:`decide` per customer.

Invoices are filtered once with the as-of rule of :mod:`payer_model.features.asof` (open at
T: issued before T, neither paid nor written off before T), partial payments received
before T are netted, and each customer gets its own invoices and reminders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from payer_model.data.schema import PII_COLUMNS
from payer_model.features.asof import open_mask
from payer_model.policy.decide import Decision, decide
from payer_model.policy.policies import PolicySet


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


def _reminders_by_customer(
    reminders: pd.DataFrame | None, open_inv: pd.DataFrame, t: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    if reminders is None or not len(reminders):
        return {}
    rem = reminders[pd.to_datetime(reminders["sent_date"]) < t]
    rem = rem[rem["invoice_id"].isin(open_inv["invoice_id"])]
    owner = dict(zip(open_inv["invoice_id"], open_inv["customer_id"], strict=True))
    return {str(k): g for k, g in rem.groupby(rem["invoice_id"].map(owner).astype(str))}


def decide_all(
    tables: Mapping[str, pd.DataFrame | None],
    scored: pd.DataFrame | Iterable[Mapping[str, Any]],
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    invoice_predictions: pd.DataFrame | None = None,
) -> list[Decision]:
    """Run :func:`decide` for every customer of ``scored`` (ratings merged with features).

    Only invoices open at ``as_of`` are passed per customer, so a portfolio of a few
    thousand customers takes seconds. ``invoice_predictions`` (``invoice_id``, ``p_late``,
    ``band`` of the invoice model at ``as_of``) let band rules apply and rank customers by
    expected overdue amount.
    """
    t = pd.Timestamp(as_of).normalize()
    inv = tables["invoices"]
    open_inv = open_invoices_at(tables, t)
    if invoice_predictions is not None and len(invoice_predictions):
        pred = invoice_predictions[["invoice_id", "p_late", "band"]].astype({"invoice_id": str})
        open_inv = open_inv.assign(invoice_id=open_inv["invoice_id"].astype(str)).merge(
            pred, on="invoice_id", how="left"
        )
    by_cust = {str(k): g for k, g in open_inv.groupby(open_inv["customer_id"].astype(str))}
    rem_by = _reminders_by_customer(tables.get("reminders"), open_inv, t)
    cust = tables.get("customers")
    cust_by = (
        {str(r["customer_id"]): r for r in cust.to_dict("records")} if cust is not None else {}
    )
    empty = inv.iloc[:0]
    out = []
    rows = scored.to_dict("records") if isinstance(scored, pd.DataFrame) else scored
    for row in rows:
        cid = str(row["customer_id"])
        c = cust_by.get(cid, {"customer_id": cid})
        c = {k: v for k, v in c.items() if k not in PII_COLUMNS}
        out.append(decide(c, by_cust.get(cid, empty), row, t, policies, rem_by.get(cid)))
    return out
