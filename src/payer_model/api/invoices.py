"""Open invoices of the ``/score`` answer: P(late), band and expected pay date per invoice."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from payer_model.api.models import (
    MAX_INVOICE_RESULTS,
    InvoicePrediction,
    ScoreRequest,
    request_tables,
)

log = logging.getLogger(__name__)

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


class InvoiceSlot:
    """The invoice-level model the engine serves next to the rating model (optional).

    ``model`` and ``version`` change together (one tuple assignment), so a request reads a
    consistent pair while :meth:`follow` swaps in a new ``invoice_late`` champion.
    """

    def __init__(self, model: Any = None) -> None:
        self._served: tuple[Any, str | None] = (model, "local" if model is not None else None)

    @property
    def model(self) -> Any:
        """The invoice model in use, or None (``/score`` then answers without invoices)."""
        return self._served[0]

    @property
    def version(self) -> str | None:
        """Registry version of the invoice model in use."""
        return self._served[1]

    def follow(self, name: str, alias: str) -> None:
        """Load ``models:/name@alias`` when it is not the version in use; never raises."""
        from payer_model.adapters import registry
        from payer_model.modelling.invoice import InvoiceLateModel

        try:
            mv = registry.alias_version(name, alias)
            if mv is None:
                self._served = (None, None)
                return
            if str(mv.version) == self.version:
                return
            model, mv = registry.download_bundle(name, alias, loader=InvoiceLateModel.load)
            self._served = (model, str(mv.version))
        except Exception as exc:  # the customer rating is served all the same
            log.warning("invoice model %s@%s not loaded: %s", name, alias, exc)

    def attach(
        self,
        results: list[dict[str, Any]],
        req: ScoreRequest,
        as_of: date,
        rows: list[dict[str, Any]],
    ) -> None:
        """Add each customer's open invoices (bounded) to its ``/score`` result in place."""
        model, version = self._served
        if not req.include_invoices or model is None:
            return
        invoices = open_invoices(model, req, as_of, rows)
        for r in results:
            mine = invoices.get(r["customer_id"], [])
            r["open_invoices"] = mine[:MAX_INVOICE_RESULTS]
            r["open_invoices_total"] = len(mine)
            r["invoice_model_version"] = version
