"""Open invoices of the ``/score`` answer: P(late), band and expected pay date per invoice."""

from __future__ import annotations

from datetime import date
from typing import Any

from payer_model.api.models import InvoicePrediction, ScoreRequest, request_tables

_DATES = ("due_date", "expected_pay_date", "pay_date_low", "pay_date_high")


def open_invoices(
    model: Any, req: ScoreRequest, as_of: date, rows: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Open invoices per customer id, largest expected overdue amount first.

    The invoice snapshots join the customer features the engine already computed for the
    rating (the scored ``rows``; :func:`payer_model.features.invoice.invoice_snapshots`), so
    no customer feature is computed twice. Customers without history have no row. Values are
    JSON types: dates as ISO strings, a pay date too far out to state as null.
    """
    import pandas as pd

    from payer_model.features import FEATURE_COLUMNS
    from payer_model.features.invoice import invoice_snapshots
    from payer_model.jobs.invoice import predict_frame

    known = [r for r in rows if "paid_n" in r]
    tables = request_tables(req)
    if not known or tables["invoices"] is None:
        return {}
    feats = pd.DataFrame(known).reindex(columns=list(FEATURE_COLUMNS))
    feats["as_of"] = pd.Timestamp(as_of)
    snap = invoice_snapshots(tables, feats, as_of)
    if snap.empty:
        return {}
    pred = predict_frame(model, snap)
    pred = pred.sort_values("expected_overdue_amount", ascending=False, kind="stable")
    out = pred[["customer_id", *InvoicePrediction.model_fields]].astype(object)
    for col in _DATES:
        out[col] = [d.date().isoformat() if pd.notna(d) else None for d in pred[col]]
    for col in ("outstanding", "p_late", "p_late_30", "expected_overdue_amount"):
        out[col] = pred[col].astype(float).tolist()
    return {
        str(cid): g.drop(columns="customer_id").to_dict("records")
        for cid, g in out.groupby("customer_id", sort=False)
    }
