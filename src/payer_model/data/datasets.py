"""Loading contract folders as plain table dicts, and reproducible customer subsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

Tables = dict[str, pd.DataFrame | None]


def subset(tables: Tables, n_customers: int | None, seed: int = 0) -> Tables:
    """The same tables restricted to ``n_customers`` customers drawn at random (all if None)."""
    if n_customers is None:
        return dict(tables)
    ids = pd.unique(tables["invoices"]["customer_id"].astype(str))
    if n_customers >= len(ids):
        return dict(tables)
    keep = set(np.random.default_rng(seed).choice(np.sort(ids), n_customers, replace=False))
    inv = tables["invoices"]
    out: Tables = {"invoices": inv[inv["customer_id"].astype(str).isin(keep)]}
    invoice_ids = set(out["invoices"]["invoice_id"].astype(str))
    for name, df in tables.items():
        if name == "invoices" or df is None:
            out.setdefault(name, df)
            continue
        if "customer_id" in df.columns:
            out[name] = df[df["customer_id"].astype(str).isin(keep)]
        elif "invoice_id" in df.columns:
            out[name] = df[df["invoice_id"].astype(str).isin(invoice_ids)]
        else:
            out[name] = df
    return {k: (v.reset_index(drop=True) if v is not None else v) for k, v in out.items()}


def load(
    path: str | Path, n_customers: int | None = None, seed: int = 0, max_bad_share: float = 0.05
) -> tuple[Tables, object]:
    """Validated tables of a contract folder (optionally a customer subset) and the report."""
    from payer_model.data.contract import load_dataset

    ds = load_dataset(path, max_bad_share=max_bad_share)
    tables: Tables = {
        "customers": ds.customers,
        "invoices": ds.invoices,
        "payments": ds.payments,
        "reminders": ds.reminders,
    }
    return subset(tables, n_customers, seed), ds.report
