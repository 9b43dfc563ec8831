"""13-week cash forecast from the pay-time distributions of the invoices open at T.

Expected collections in week w (days [7w, 7w + 7) from T) are the sum over open invoices of
the outstanding amount times P(paid in that week) from the invoice model's pay-time
distribution. **Assumption:** invoices not yet issued at T are left out (no new business
is forecast); the actuals the backtest compares with are the collections of the same book
(the invoices open at T), so all three forecasts answer the same question. Partial
payments before T reduce the outstanding amount; a payment is counted in full on its paid
date.

Two reference forecasts on the same book: the **due-date** forecast (each invoice paid on its
due date, overdue ones in week 0) and the **customer-mean** forecast (due date + the
customer's mean days late). WAPE per as-of date is ``sum |forecast - actual| / sum actual``
over the weeks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

WEEKS = 13
_DAY = pd.Timedelta(days=1)


def _week_of(dates: pd.Series, as_of: pd.Series, weeks: int) -> np.ndarray:
    """Week index from T of each date (overdue dates fall in week 0); -1 beyond the horizon."""
    days = ((dates - as_of) / _DAY).to_numpy(dtype=float)
    w = np.floor(np.maximum(days, 0) / 7)
    return np.where(np.isfinite(w) & (w < weeks), w, -1).astype(int)


def _by_week(amount: np.ndarray, week: np.ndarray, weeks: int) -> np.ndarray:
    keep = week >= 0
    return np.bincount(week[keep], weights=amount[keep], minlength=weeks)[:weeks]


def model_forecast(model: Any, snap: pd.DataFrame, weeks: int = WEEKS) -> np.ndarray:
    """Expected collections per week from the model's pay-time distribution (one as-of)."""
    # durations are whole days (a payment on day d from T is d + 1): week w holds the
    # durations in (7w, 7w + 7], so the edges sit half a day past each multiple of 7
    edges = np.arange(0, weeks + 1) * 7.0 + 0.5
    cdf = model.pay_cdf(snap, edges)
    probs = np.diff(cdf, axis=1)
    return snap["outstanding"].to_numpy(dtype=float) @ probs


def date_forecast(snap: pd.DataFrame, dates: pd.Series, weeks: int = WEEKS) -> np.ndarray:
    """Collections per week when each invoice is paid on ``dates`` (one as-of)."""
    week = _week_of(dates, snap["as_of"], weeks)
    return _by_week(snap["outstanding"].to_numpy(dtype=float), week, weeks)


def actual_collections(snap: pd.DataFrame, weeks: int = WEEKS) -> np.ndarray:
    """What the book open at T actually brought in per week (needs ``paid_date``)."""
    return date_forecast(snap, snap["paid_date"], weeks)


def forecast_table(
    model: Any,
    snap: pd.DataFrame,
    customer_mean_dates: pd.Series,
    *,
    weeks: int = WEEKS,
    with_actual: bool = False,
) -> pd.DataFrame:
    """Per week of one as-of date: start date, model, due-date, customer-mean (and actual)."""
    as_of = pd.Timestamp(snap["as_of"].iloc[0]) if len(snap) else pd.NaT
    out = pd.DataFrame(
        {
            "week": np.arange(weeks),
            "week_start": [as_of + pd.Timedelta(days=7 * w) for w in range(weeks)],
            "model": model_forecast(model, snap, weeks) if len(snap) else np.zeros(weeks),
            "due_date": date_forecast(snap, snap["due_date"], weeks),
            "customer_mean": date_forecast(snap, customer_mean_dates, weeks),
        }
    )
    if with_actual:
        out["actual"] = actual_collections(snap, weeks)
    return out


def wape(forecast: np.ndarray, actual: np.ndarray) -> float | None:
    """Weighted absolute percentage error ``sum |f - a| / sum a`` (None when nothing came in)."""
    total = float(np.sum(actual))
    return float(np.sum(np.abs(forecast - actual)) / total) if total > 0 else None


def backtest_forecast(
    model: Any, snap: pd.DataFrame, customer_mean_dates: pd.Series, weeks: int = WEEKS
) -> dict[str, Any]:
    """WAPE of the three forecasts per past as-of date and on average, plus the weekly table.

    Args:
        model: a fitted invoice model (``pay_cdf``).
        snap: invoice snapshots at past cutoffs with ``paid_date`` and ``outstanding``; each
            cutoff must be observed at least ``weeks`` weeks.
        customer_mean_dates: the customer-mean pay date per row of ``snap``.
        weeks: forecast horizon in weeks.
    """
    tables, rows = [], []
    for as_of, g in snap.groupby("as_of", sort=True):
        tab = forecast_table(
            model, g, customer_mean_dates.loc[g.index], weeks=weeks, with_actual=True
        )
        tab.insert(0, "as_of", as_of)
        tables.append(tab)
        rows.append(
            {
                "as_of": pd.Timestamp(as_of).date().isoformat(),
                **{
                    f"wape_{k}": wape(tab[k].to_numpy(), tab["actual"].to_numpy())
                    for k in ("model", "due_date", "customer_mean")
                },
            }
        )
    per_date = pd.DataFrame(rows)
    mean = {c: float(per_date[c].mean()) for c in per_date.columns if c.startswith("wape_")}
    return {
        "per_as_of": rows,
        "mean": mean,
        "ratio_to_due_date": mean["wape_model"] / mean["wape_due_date"]
        if mean.get("wape_due_date")
        else None,
        "weekly": pd.concat(tables, ignore_index=True),
    }
