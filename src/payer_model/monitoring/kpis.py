"""Collections KPIs per segment and month (pure pandas, no model needed).

Definitions, for a month ``[S, E]`` (``E`` = last day of the month) and a group of customers:

* **open AR** at a date: invoices issued on or before it and not paid by then (amount).
* **DSO (count-back)**: walk back from the month of ``E`` subtracting each month's sales
  from the open AR; every fully covered month adds its days, the last one a fraction.
* **CEI** (collection effectiveness index, %): ``(AR_begin + sales - AR_end) /
  (AR_begin + sales - current_AR_end) * 100``, current = not yet due at ``E``.
* **ADD** (average days delinquent): DSO minus the best possible DSO (the count-back on
  the current, not yet due, part of the AR).
* **overdue share** and **share > 90 days**: amount past due (more than 90 days) / open AR.
* **reminders sent** in the month and the **useless-reminder rate**: reminders on invoices
  that were paid within ``useless_days`` days of the reminder anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

KPI_COLUMNS: tuple[str, ...] = (
    "open_ar",
    "sales",
    "dso",
    "cei",
    "add",
    "overdue_share",
    "share_over_90",
    "reminders_sent",
    "useless_reminder_rate",
)


def _invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    inv = invoices
    if "document_type" in inv.columns:
        inv = inv[inv["document_type"].fillna("invoice") != "credit_note"]
    paid = (
        pd.to_datetime(inv["paid_date"])
        if "paid_date" in inv.columns
        else pd.Series(pd.NaT, index=inv.index)
    )
    return pd.DataFrame(
        {
            "invoice_id": inv["invoice_id"].astype(str).to_numpy(),
            "customer_id": inv["customer_id"].astype(str).to_numpy(),
            "invoice_date": pd.to_datetime(inv["invoice_date"]).to_numpy(),
            "due_date": pd.to_datetime(inv["due_date"]).to_numpy(),
            "paid_date": paid.to_numpy(),
            "amount": inv["amount"].astype(float).to_numpy(),
        }
    )


def _open_at(inv: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    return inv[(inv["invoice_date"] <= t) & ~(inv["paid_date"] <= t)]


def dso_count_back(ar: float, monthly_sales: list[tuple[float, int]]) -> float:
    """Days sales outstanding by the count-back method.

    Args:
        ar: receivables at the end of the latest month.
        monthly_sales: ``(sales, days_in_month)`` from the latest month backwards.

    Returns:
        Days; when the AR exceeds all the sales given, every month's days are counted.
    """
    days, left = 0.0, float(ar)
    for sales, n_days in monthly_sales:
        if left <= 0:
            break
        if sales <= 0:
            days += n_days
            continue
        if left >= sales:
            days += n_days
            left -= sales
        else:
            days += n_days * left / sales
            left = 0.0
    return days


def _month_kpis(
    inv: pd.DataFrame, rem: pd.DataFrame | None, month: pd.Period, useless_days: int, lookback: int
) -> dict[str, float]:
    start, end = month.start_time.normalize(), month.end_time.normalize()
    before = start - pd.Timedelta(days=1)
    open_end = _open_at(inv, end)
    ar_end = float(open_end["amount"].sum())
    ar_begin = float(_open_at(inv, before)["amount"].sum())
    current_end = float(open_end.loc[open_end["due_date"] >= end, "amount"].sum())
    past_due = (end - open_end["due_date"]).dt.days
    sales = float(
        inv.loc[(inv["invoice_date"] >= start) & (inv["invoice_date"] <= end), "amount"].sum()
    )
    months = [month - k for k in range(lookback)]
    monthly = [
        (
            float(
                inv.loc[
                    (inv["invoice_date"] >= m.start_time.normalize())
                    & (inv["invoice_date"] <= m.end_time.normalize()),
                    "amount",
                ].sum()
            ),
            m.days_in_month,
        )
        for m in months
    ]
    dso = dso_count_back(ar_end, monthly)
    best = dso_count_back(current_end, monthly)
    denom = ar_begin + sales - current_end
    out = {
        "open_ar": ar_end,
        "sales": sales,
        "dso": dso,
        "cei": (ar_begin + sales - ar_end) / denom * 100 if denom > 0 else np.nan,
        "add": dso - best,
        "overdue_share": float(open_end.loc[past_due > 0, "amount"].sum()) / ar_end
        if ar_end > 0
        else np.nan,
        "share_over_90": float(open_end.loc[past_due > 90, "amount"].sum()) / ar_end
        if ar_end > 0
        else np.nan,
        "reminders_sent": np.nan,
        "useless_reminder_rate": np.nan,
    }
    if rem is not None:
        sent = rem[(rem["sent_date"] >= start) & (rem["sent_date"] <= end)]
        paid = sent["invoice_id"].map(inv.set_index("invoice_id")["paid_date"])
        lag = (pd.to_datetime(paid) - sent["sent_date"]).dt.days
        out["reminders_sent"] = float(len(sent))
        out["useless_reminder_rate"] = (
            float(lag.between(0, useless_days).sum()) / len(sent) if len(sent) else np.nan
        )
    return out


def collection_kpis(
    invoices: pd.DataFrame,
    segments: Mapping[str, str] | pd.Series,
    months: list[pd.Period] | pd.PeriodIndex,
    reminders: pd.DataFrame | None = None,
    *,
    useless_days: int = 3,
    lookback_months: int = 12,
) -> pd.DataFrame:
    """KPIs per segment per month, plus an ``All`` row per month.

    Args:
        invoices: contract invoices (credit notes are ignored).
        segments: customer id -> segment (customers without one are ``Unassigned``).
        months: calendar months to report.
        reminders: contract reminders (``invoice_id``, ``sent_date``); optional.
        useless_days: a reminder followed by payment within this many days is useless.
        lookback_months: months the DSO count-back may walk back.

    Returns:
        One row per (month, segment) with :data:`KPI_COLUMNS`.
    """
    inv = _invoices(invoices)
    seg = pd.Series(segments, dtype=object)
    seg.index = seg.index.astype(str)
    inv["segment"] = inv["customer_id"].map(seg).fillna("Unassigned")
    rem = None
    if reminders is not None and len(reminders):
        rem = pd.DataFrame(
            {
                "invoice_id": reminders["invoice_id"].astype(str).to_numpy(),
                "sent_date": pd.to_datetime(reminders["sent_date"]).to_numpy(),
            }
        )
        rem["segment"] = rem["invoice_id"].map(inv.set_index("invoice_id")["segment"])
    rows = []
    groups = [("All", inv, rem)] + [
        (name, g, None if rem is None else rem[rem["segment"] == name])
        for name, g in inv.groupby("segment")
    ]
    for month in months:
        p = pd.Period(month, freq="M")
        for name, g, r in groups:
            rows.append(
                {
                    "month": str(p),
                    "segment": name,
                    **_month_kpis(g, r, p, useless_days, lookback_months),
                }
            )
    return pd.DataFrame(rows, columns=["month", "segment", *KPI_COLUMNS])
