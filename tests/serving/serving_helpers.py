"""Helpers for the serving tests: request bodies built from the validated portfolio."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

KEY = "test-key-1-0123456789"
FUZZ_KEY = "fuzz-key-2-0123456789"
BURST_KEY = "burst-key-3-0123456789"
SALT = "test-salt"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPO = Path(__file__).resolve().parents[2]


def _val(v):
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if hasattr(v, "item"):
        v = v.item()
    return v


def _rows(df, cols, cid):
    sub = df[df["customer_id"] == cid]
    out = []
    for r in sub.to_dict("records"):
        row = {c: _val(r.get(c)) for c in cols}
        out.append({k: v for k, v in row.items() if v is not None})
    return out


def build_request(tables, customer_ids, as_of: str, n_invoices: int | None = None) -> dict:
    """A /score body for some customers of the validated portfolio (no names or emails)."""
    inv_cols = [
        "invoice_id",
        "document_type",
        "invoice_date",
        "due_date",
        "amount",
        "currency",
        "paid_date",
        "paid_amount",
        "disputed",
        "dispute_date",
        "written_off_date",
    ]
    customers = []
    for cid in customer_ids:
        c = tables["customers"].set_index("customer_id").loc[cid]
        invoices = _rows(tables["invoices"], inv_cols, cid)
        if n_invoices is not None:
            invoices = invoices[:n_invoices]
        ids = {i["invoice_id"] for i in invoices}
        cust = {
            "customer_id": cid,
            "customer_type": c["customer_type"],
            "industry": _val(c["industry"]),
            "country": _val(c["country"]),
            "payment_terms_days": None
            if pd.isna(c["payment_terms_days"])
            else int(c["payment_terms_days"]),
            "credit_limit": _val(c["credit_limit"]),
            "created_date": _val(c["created_date"]),
            "invoices": invoices,
            "payments": [
                p
                for p in _rows(
                    tables["payments"], ["invoice_id", "payment_date", "amount", "payment_id"], cid
                )
                if p["invoice_id"] in ids
            ],
            "reminders": [
                r
                for r in _rows(
                    tables["reminders"], ["invoice_id", "sent_date", "channel", "outcome"], cid
                )
                if r["invoice_id"] in ids
            ],
        }
        customers.append({k: v for k, v in cust.items() if v is not None})
    return {"as_of": as_of, "customers": customers}


def load_service():
    """The service class from ``serving/service.py`` (``tests/serving`` shadows the name)."""
    import importlib.util
    import sys

    name = "payer_serving_service"
    if name in sys.modules:
        return sys.modules[name].PayerModelService
    spec = importlib.util.spec_from_file_location(name, REPO / "serving" / "service.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.PayerModelService
