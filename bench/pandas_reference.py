"""A straightforward pandas implementation of all 52 as-of features (the bench reference).

It is what one would write without an SQL engine: boolean masks, ``groupby`` per family,
``join`` at the end, for one cutoff. It computes every column of ``FEATURE_COLUMNS`` with
the definitions of ``payer_model.features`` (history, 12-month window with exact
quantiles and the last five payments, trend, exposure net of partial payments, activity,
disputes and write-offs, reminders, last period's realised label, the customer profile),
so "x faster" in ``bench/RESULTS.md`` compares the same work. ``python -m bench`` checks it
equal to the DuckDB engine on a sample before timing it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from payer_model.config import LabelConfig
from payer_model.features.definitions import FEATURE_COLUMNS
from payer_model.features.labels import LABEL_INDEX

DATES = ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date")


def _days(a, b) -> pd.Series:
    return (a - b).dt.days.astype(float)


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return a / b.where(b != 0)


def _prepare(invoices: pd.DataFrame) -> pd.DataFrame:
    inv = invoices.copy()
    for c in DATES:
        inv[c] = pd.to_datetime(inv[c]) if c in inv else pd.NaT
    inv["customer_id"] = inv["customer_id"].astype(str)
    inv["invoice_id"] = inv["invoice_id"].astype(str)
    doc = inv["document_type"].fillna("invoice") if "document_type" in inv else "invoice"
    inv["disputed"] = inv["disputed"].fillna(False).astype(bool) if "disputed" in inv else False
    return inv[~((doc == "credit_note") | (inv["amount"] < 0))]


def _history(inv: pd.DataFrame, t: pd.Timestamp, window: int, trend: int) -> pd.DataFrame:
    paid = inv[inv["paid_date"] < t].copy()
    paid["dl"] = _days(paid["paid_date"], paid["due_date"])
    paid["late_amt"] = paid["amount"] * paid["dl"]
    paid["dtp_amt"] = paid["amount"] * _days(paid["paid_date"], paid["invoice_date"])
    g = paid.groupby("customer_id")
    n = g.size().astype(float)
    amt = g["amount"].sum()
    hist = pd.DataFrame(
        {
            "paid_n": n,
            "paid_amt": amt,
            "wmean_days_late": _ratio(g["late_amt"].sum(), amt),
            "wmean_days_to_pay": _ratio(g["dtp_amt"].sum(), amt),
            "share_late_0": (paid["dl"] > 0).groupby(paid["customer_id"]).sum() / n,
            "share_late_15": (paid["dl"] > 15).groupby(paid["customer_id"]).sum() / n,
            "share_late_30": (paid["dl"] > 30).groupby(paid["customer_id"]).sum() / n,
            "max_days_late": g["dl"].max(),
            "days_since_last_payment": (t - g["paid_date"].max()).dt.days.astype(float),
        }
    )
    win = paid[paid["paid_date"] >= t - pd.Timedelta(days=window)]
    gw = win.groupby("customer_id")
    wamt = gw["amount"].sum()
    last5 = (
        win.sort_values(["customer_id", "paid_date", "invoice_id"], ascending=[True, False, False])
        .groupby("customer_id")
        .head(5)
    )
    recent = win[win["paid_date"] >= t - pd.Timedelta(days=trend)]
    before = win[
        (win["paid_date"] < t - pd.Timedelta(days=trend))
        & (win["paid_date"] >= t - pd.Timedelta(days=2 * trend))
    ]
    w = pd.DataFrame(
        {
            "paid_n_12m": gw.size().astype(float),
            "wmean_days_late_12m": _ratio(gw["late_amt"].sum(), wamt),
            "median_days_late_12m": gw["dl"].quantile(0.5),
            "p90_days_late_12m": gw["dl"].quantile(0.9),
            "max_days_late_12m": gw["dl"].max(),
            "last5_mean_days_late": last5.groupby("customer_id")["dl"].mean(),
            "mean_days_late_90d": recent.groupby("customer_id")["dl"].mean(),
            "mean_days_late_prev90d": before.groupby("customer_id")["dl"].mean(),
        }
    )
    w["trend_days_late"] = w["mean_days_late_90d"] - w["mean_days_late_prev90d"]
    return hist.join(w, how="outer")


def _activity(inv: pd.DataFrame, t: pd.Timestamp, window: int, trend: int) -> pd.DataFrame:
    known = inv[inv["invoice_date"] < t]
    gi = known.groupby("customer_id")
    n = gi.size().astype(float)
    act = pd.DataFrame(
        {
            "inv_n": n,
            "mean_invoice_amt": gi["amount"].sum() / n,
            "first_inv": gi["invoice_date"].min(),
            "days_since_last_invoice": (t - gi["invoice_date"].max()).dt.days.astype(float),
            "terms_mean": _days(known["due_date"], known["invoice_date"])
            .groupby(known["customer_id"])
            .sum()
            / n,
        }
    )
    recent = known[known["invoice_date"] >= t - pd.Timedelta(days=window)]
    age = (t - recent["invoice_date"]).dt.days
    by = recent["customer_id"]
    act["billed_12m"] = recent.groupby("customer_id")["amount"].sum()
    act["inv_n_90d"] = (age <= trend).groupby(by).sum().astype(float)
    act["inv_n_prev90d"] = ((age > trend) & (age <= 2 * trend)).groupby(by).sum().astype(float)
    disp = inv[inv["dispute_date"] < t].groupby("customer_id").size()
    wo = inv[inv["written_off_date"] < t].groupby("customer_id")
    act["disputes_n"] = disp.astype(float)
    act["writeoffs_n"] = wo.size().astype(float)
    act["writeoff_amt"] = wo["amount"].sum()
    return act


def _exposure(inv: pd.DataFrame, payments: pd.DataFrame | None, t: pd.Timestamp) -> pd.DataFrame:
    close = inv[["paid_date", "written_off_date"]].min(axis=1)
    open_ = inv[(inv["invoice_date"] < t) & (close.isna() | (close >= t))].copy()
    if payments is not None and len(payments):
        p = payments[pd.to_datetime(payments["payment_date"]) < t]
        part = p.groupby(p["invoice_id"].astype(str))["amount"].sum()
        paid_part = open_["invoice_id"].map(part).fillna(0.0)
        open_["remaining"] = (open_["amount"] - paid_part).clip(lower=0)
    else:
        open_["remaining"] = open_["amount"].clip(lower=0)
    open_["age"] = _days(pd.Series(t, index=open_.index), open_["due_date"])
    open_["disp"] = open_["disputed"] & (open_["dispute_date"] < t)
    over = open_[open_["age"] > 0]
    go, gd = open_.groupby("customer_id"), over.groupby("customer_id")

    def bucket(lo: float, hi: float) -> pd.Series:
        b = over[(over["age"] >= lo) & (over["age"] <= hi)]
        return b.groupby("customer_id")["remaining"].sum()

    return pd.DataFrame(
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
            "open_disputed_n": go["disp"].sum().astype(float),
        }
    )


def _reminders(
    inv: pd.DataFrame, reminders: pd.DataFrame | None, t: pd.Timestamp, window: int
) -> pd.DataFrame:
    if reminders is None or not len(reminders):
        return pd.DataFrame(columns=["reminders_12m", "reminder_response_rate"], dtype=float)
    r = pd.DataFrame(
        {
            "invoice_id": reminders["invoice_id"].astype(str),
            "sent": pd.to_datetime(reminders["sent_date"]),
        }
    )
    r = r[(r["sent"] < t) & (r["sent"] >= t - pd.Timedelta(days=window))]
    r = r.merge(inv[["invoice_id", "customer_id", "paid_date"]], on="invoice_id")
    resolved = r["sent"] < t - pd.Timedelta(days=7)
    answered = (
        resolved
        & (r["paid_date"] >= r["sent"])
        & (r["paid_date"] <= r["sent"] + pd.Timedelta(days=7))
    )
    by = r["customer_id"]
    out = pd.DataFrame({"reminders_12m": by.value_counts().astype(float)})
    out["reminder_response_rate"] = _ratio(
        answered.groupby(by).sum().astype(float), resolved.groupby(by).sum().astype(float)
    )
    return out


def _previous_label(inv: pd.DataFrame, t: pd.Timestamp, cfg: LabelConfig) -> pd.DataFrame:
    s, end = t - pd.Timedelta(days=cfg.observation_days), t
    known = inv[inv["invoice_date"] < t]
    close = known[["paid_date", "written_off_date"]].min(axis=1)
    open_at_s = (known["invoice_date"] < s) & (close.isna() | (close >= s))
    horizon = s + pd.Timedelta(days=cfg.horizon_days)
    due_in = (known["due_date"] >= s) & (known["due_date"] < horizon)
    w = known[open_at_s | due_in].copy()
    w["paid_by_e"] = w["paid_date"] < end
    w["dl"] = np.where(
        w["paid_by_e"],
        _days(w["paid_date"], w["due_date"]),
        (end - w["due_date"]).dt.days.astype(float),
    )
    w["late_amt"] = w["amount"] * w["dl"]
    late_unpaid = ~w["paid_by_e"] & (w["dl"] >= cfg.bad_unpaid_days_past_due)
    w["unpaid"] = np.where(late_unpaid, w["amount"], 0.0)
    w["wo"] = (w["written_off_date"] < end) & ~w["paid_by_e"]
    g = w.groupby("customer_id")
    amt = g["amount"].sum()
    mean = _ratio(g["late_amt"].sum(), amt)
    share = _ratio(g["unpaid"].sum(), amt)
    mx = g["dl"].max()
    bad = (mean > cfg.bad_min_mean_days_late) | (share >= cfg.bad_unpaid_share) | g["wo"].any()
    good = (mean <= cfg.good_max_mean_days_late) & (mx <= cfg.good_max_days_late)
    label = pd.Series(np.where(bad, "bad", np.where(good, "good", "average")), index=amt.index)
    return pd.DataFrame(
        {
            "prev_label": label,
            "prev_label_code": label.map(LABEL_INDEX).astype(float),
            "prev_mean_days_late": mean,
            "prev_unpaid_share": share,
        }
    )


def pandas_features(
    invoices: pd.DataFrame,
    payments: pd.DataFrame | None,
    as_of: pd.Timestamp,
    *,
    customers: pd.DataFrame | None = None,
    reminders: pd.DataFrame | None = None,
    window_days: int = 365,
    trend_days: int = 90,
    labels: LabelConfig | None = None,
) -> pd.DataFrame:
    """All ``FEATURE_COLUMNS`` of every customer with an invoice before ``as_of``."""
    t = pd.Timestamp(as_of).normalize()
    inv = _prepare(invoices)
    act = _activity(inv, t, window_days, trend_days)
    out = act.join(
        [
            _history(inv, t, window_days, trend_days),
            _exposure(inv, payments, t),
            _reminders(inv, reminders, t, window_days),
            _previous_label(inv, t, labels or LabelConfig()),
        ],
        how="left",
    )
    zero = [
        "paid_n", "paid_amt", "paid_n_12m", "inv_n_90d", "inv_n_prev90d", "billed_12m",
        "open_n", "open_amt", "overdue_n", "overdue_amt", "aging_1_30", "aging_31_60",
        "aging_61_90", "aging_90p", "oldest_overdue_days", "open_disputed_n", "disputes_n",
        "writeoffs_n", "writeoff_amt", "reminders_12m",
    ]  # fmt: skip
    out[zero] = out[zero].fillna(0.0)
    out["inv_trend"] = (out["inv_n_90d"] - out["inv_n_prev90d"]) / (
        out["inv_n_90d"] + out["inv_n_prev90d"] + 1.0
    )
    out["overdue_share"] = _ratio(out["overdue_amt"], out["open_amt"]).fillna(0.0)
    out["dispute_rate"] = _ratio(out["disputes_n"], out["inv_n"])
    out["reminders_per_paid"] = _ratio(out["reminders_12m"], out["paid_n_12m"])
    out["prev_label"] = out["prev_label"].fillna("none")

    cust = pd.DataFrame(index=out.index)
    if customers is not None and len(customers):
        c = customers.assign(customer_id=customers["customer_id"].astype(str)).set_index(
            "customer_id"
        )
        cust = cust.join(c, how="left")
    get = lambda col: cust[col] if col in cust else pd.Series(np.nan, index=out.index)  # noqa: E731
    limit = pd.to_numeric(get("credit_limit"), errors="coerce").astype(float)
    out["credit_limit"] = limit
    out["credit_utilisation"] = _ratio(out["open_amt"], limit)
    terms = pd.to_numeric(get("payment_terms_days"), errors="coerce").astype(float)
    out["payment_terms_days"] = terms.fillna(out["terms_mean"])
    created = pd.to_datetime(get("created_date"))
    start = created.where(created < out["first_inv"], out["first_inv"])
    out["tenure_days"] = (t - start).dt.days.astype(float)
    out["customer_type"] = get("customer_type").fillna("company").astype(str).str.lower()
    out["industry"] = get("industry").fillna("unknown").astype(str)
    out["country"] = get("country").fillna("unknown").astype(str)
    out["as_of"] = t
    out = out.rename_axis("customer_id").reset_index()
    return out[list(FEATURE_COLUMNS)].sort_values("customer_id").reset_index(drop=True)


def check_reference(customers: int = 2000) -> dict:
    """The pandas reference and the file path against the DuckDB engine on a sample."""
    import tempfile

    from payer_model.config import TrainConfig
    from payer_model.data.generate import generate_dataset, write_dataset
    from payer_model.features import build_features, compute
    from payer_model.features.definitions import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    from payer_model.features.labels import data_range

    tables = generate_dataset(customers, 24, seed=5)
    as_of = data_range(tables["invoices"])[1]
    kw = {k: tables[k] for k in ("customers", "payments", "reminders")}
    ref = pandas_features(
        tables["invoices"], tables["payments"], as_of,
        customers=tables["customers"], reminders=tables["reminders"],
    )  # fmt: skip
    duck = build_features(tables["invoices"], as_of, **kw)
    duck = duck.sort_values("customer_id").reset_index(drop=True)
    assert list(ref["customer_id"]) == list(duck["customer_id"]), "customer sets differ"
    diff = 0.0
    for col in NUMERIC_FEATURES:
        a, b = ref[col].to_numpy(float), duck[col].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all(), f"{col}: missing values differ"
        ok = ~np.isnan(a)
        if ok.any():
            diff = max(diff, float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(1, np.abs(b[ok])))))
    for col in CATEGORICAL_FEATURES:
        assert (ref[col].astype(str) == duck[col].astype(str)).all(), f"{col} differs"
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(tables, tmp, fmt="parquet")
        files = compute(tmp, as_of, TrainConfig()).sort_values("customer_id")
        mem = compute(tables, as_of, TrainConfig()).sort_values("customer_id")
        pd.testing.assert_frame_equal(
            files.reset_index(drop=True), mem.reset_index(drop=True), rtol=1e-9
        )
    return {"max_rel_diff": diff, "columns": len(NUMERIC_FEATURES) + len(CATEGORICAL_FEATURES)}
