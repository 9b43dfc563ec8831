"""A straightforward pandas implementation of the core as-of features (the bench reference).

It is what one would write without an SQL engine: boolean masks, ``groupby`` per family,
``merge`` at the end. Only one cutoff; same definitions as ``payer_model.features.batch`` for the
columns in :data:`CORE`, checked against DuckDB on a sample by ``python -m bench``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CORE: tuple[str, ...] = (
    "paid_n",
    "paid_amt",
    "wmean_days_late",
    "wmean_days_to_pay",
    "share_late_0",
    "share_late_15",
    "share_late_30",
    "max_days_late",
    "paid_n_12m",
    "wmean_days_late_12m",
    "median_days_late_12m",
    "p90_days_late_12m",
    "max_days_late_12m",
    "open_n",
    "open_amt",
    "overdue_n",
    "overdue_amt",
    "aging_1_30",
    "aging_31_60",
    "aging_61_90",
    "aging_90p",
    "oldest_overdue_days",
    "inv_n",
    "mean_invoice_amt",
    "days_since_last_invoice",
    "days_since_last_payment",
    "billed_12m",
)


def _days(a: pd.Series, b: pd.Series | pd.Timestamp) -> pd.Series:
    return (a - b).dt.days.astype(float)


def pandas_features(
    invoices: pd.DataFrame,
    payments: pd.DataFrame | None,
    as_of: pd.Timestamp,
    window_days: int = 365,
) -> pd.DataFrame:
    """Core features of every customer with an invoice before ``as_of``."""
    t = pd.Timestamp(as_of).normalize()
    inv = invoices.copy()
    for c in ("invoice_date", "due_date", "paid_date", "written_off_date"):
        inv[c] = pd.to_datetime(inv[c])
    inv["customer_id"] = inv["customer_id"].astype(str)
    inv = inv[~((inv["document_type"] == "credit_note") | (inv["amount"] < 0))]
    inv = inv[inv["invoice_date"] < t]

    # history: invoices paid before T
    paid = inv[inv["paid_date"] < t].copy()
    paid["dl"] = _days(paid["paid_date"], paid["due_date"])
    paid["dtp"] = _days(paid["paid_date"], paid["invoice_date"])
    paid["late_amt"] = paid["amount"] * paid["dl"]
    paid["dtp_amt"] = paid["amount"] * paid["dtp"]
    paid["l0"], paid["l15"], paid["l30"] = paid["dl"] > 0, paid["dl"] > 15, paid["dl"] > 30
    g = paid.groupby("customer_id")
    hist = pd.DataFrame(
        {
            "paid_n": g.size().astype(float),
            "paid_amt": g["amount"].sum(),
            "late_amt": g["late_amt"].sum(),
            "dtp_amt": g["dtp_amt"].sum(),
            "share_late_0": g["l0"].mean(),
            "share_late_15": g["l15"].mean(),
            "share_late_30": g["l30"].mean(),
            "max_days_late": g["dl"].max(),
            "days_since_last_payment": _days(
                pd.Series(t, index=g.size().index), g["paid_date"].max()
            ),
        }
    )
    amt = hist["paid_amt"].replace(0, np.nan)
    hist["wmean_days_late"] = hist.pop("late_amt") / amt
    hist["wmean_days_to_pay"] = hist.pop("dtp_amt") / amt

    # bounded window of payments: quantiles
    win = paid[paid["paid_date"] >= t - pd.Timedelta(days=window_days)]
    gw = win.groupby("customer_id")
    w = pd.DataFrame(
        {
            "paid_n_12m": gw.size().astype(float),
            "wmean_days_late_12m": gw["late_amt"].sum() / gw["amount"].sum().replace(0, np.nan),
            "median_days_late_12m": gw["dl"].quantile(0.5),
            "p90_days_late_12m": gw["dl"].quantile(0.9),
            "max_days_late_12m": gw["dl"].max(),
        }
    )

    # exposure: open at T = not paid and not written off before T, less partial payments
    first_close = inv[["paid_date", "written_off_date"]].min(axis=1)
    open_ = inv[first_close.isna() | (first_close >= t)].copy()
    if payments is not None and len(payments):
        p = payments[pd.to_datetime(payments["payment_date"]) < t]
        part = p.groupby(p["invoice_id"].astype(str))["amount"].sum()
        open_["remaining"] = (
            open_["amount"] - open_["invoice_id"].astype(str).map(part).fillna(0.0)
        ).clip(lower=0)
    else:
        open_["remaining"] = open_["amount"]
    open_["age"] = _days(pd.Series(t, index=open_.index), open_["due_date"])
    overdue = open_[open_["age"] > 0]
    go, gd = open_.groupby("customer_id"), overdue.groupby("customer_id")

    def bucket(lo: int, hi: float) -> pd.Series:
        b = overdue[(overdue["age"] >= lo) & (overdue["age"] <= hi)]
        return b.groupby("customer_id")["remaining"].sum()

    expo = pd.DataFrame(
        {
            "open_n": go.size().astype(float),
            "open_amt": go["remaining"].sum(),
            "overdue_n": gd.size().astype(float),
            "overdue_amt": gd["remaining"].sum(),
            "aging_1_30": bucket(1, 30),
            "aging_31_60": bucket(31, 60),
            "aging_61_90": bucket(61, 90),
            "aging_90p": bucket(91, np.inf),
            "oldest_overdue_days": gd["age"].max(),
        }
    )

    # activity
    gi = inv.groupby("customer_id")
    act = pd.DataFrame(
        {
            "inv_n": gi.size().astype(float),
            "mean_invoice_amt": gi["amount"].mean(),
            "days_since_last_invoice": _days(
                pd.Series(t, index=gi.size().index), gi["invoice_date"].max()
            ),
        }
    )
    recent = inv[inv["invoice_date"] >= t - pd.Timedelta(days=window_days)]
    act["billed_12m"] = recent.groupby("customer_id")["amount"].sum()

    out = act.join([hist, w, expo], how="left")
    zero = [
        "paid_n",
        "paid_amt",
        "paid_n_12m",
        "open_n",
        "open_amt",
        "overdue_n",
        "overdue_amt",
        "aging_1_30",
        "aging_31_60",
        "aging_61_90",
        "aging_90p",
        "oldest_overdue_days",
        "billed_12m",
    ]
    out[zero] = out[zero].fillna(0.0)
    out = out.reset_index().rename(columns={"index": "customer_id"})
    return out[["customer_id", *CORE]].sort_values("customer_id").reset_index(drop=True)
