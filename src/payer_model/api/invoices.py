"""Open invoices of the ``/score`` answer: P(late), band and expected pay date per invoice."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from payer_model.api.models import InvoicePrediction, ScoreRequest, request_tables


def _json(x: Any) -> Any:
    if x is None or type(x).__name__ in ("NaTType", "NAType"):
        return None
    if hasattr(x, "item") and not isinstance(x, str | bytes):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, datetime):
        return x.date().isoformat()
    if isinstance(x, date):
        return x.isoformat()
    return x


def open_invoices(
    model: Any, req: ScoreRequest, as_of: date, rows: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Open invoices per customer id, largest expected overdue amount first.

    The invoice snapshots join the customer features the engine already computed for the
    rating (the scored ``rows``; :func:`payer_model.features.invoice.invoice_snapshots`), so
    no customer feature is computed twice. Customers without history have no row.
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
    keep = list(InvoicePrediction.model_fields)
    return {
        str(cid): [{k: _json(v) for k, v in rec.items()} for rec in g[keep].to_dict("records")]
        for cid, g in pred.groupby("customer_id", sort=False)
    }
