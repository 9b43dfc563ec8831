"""The two baselines every model must beat out of time (DESIGN §4).

* **rule**: the amount-weighted mean days late over the last 12 months (lifetime when the
  window is empty), bucketed at the label thresholds — what most AR tools call a rating;
* **persistence**: last period's realised label, i.e. the label at ``T - H - G``, which is
  fully observed by T.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from payer_model.config import LabelConfig


def rule_rating(features: pd.DataFrame, cfg: LabelConfig) -> pd.Series:
    """Rule rating (good / average / bad) from as-of features; NaN without any payment."""
    mean = features["wmean_days_late_12m"].fillna(features["wmean_days_late"])
    out = np.where(
        mean.isna(),
        None,
        np.where(
            mean > cfg.bad_min_mean_days_late,
            "bad",
            np.where(mean <= cfg.good_max_mean_days_late, "good", "average"),
        ),
    )
    return pd.Series(out, index=features.index, name="rule_rating", dtype=object)


def persistence_labels(
    invoices: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], cfg: LabelConfig
) -> pd.DataFrame:
    """Last period's label for each cutoff: the realised label at ``T - H - G``.

    Only invoices and payments dated before T enter it, so it is known at T.
    """
    from payer_model.labels import label_snapshots

    lag = pd.Timedelta(days=cfg.observation_days)
    cut = pd.to_datetime(list(cutoffs)).normalize()
    # Only events before T may be seen: cut the future off explicitly.
    prev = label_snapshots(_as_known_at(invoices, cut.max()), list(cut - lag), cfg)
    out = prev[["customer_id", "as_of", "label"]].rename(columns={"label": "persistence"})
    out["as_of"] = (out["as_of"] + lag).astype("datetime64[us]")
    return out


def _as_known_at(invoices: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """Invoices as they were known at ``t``: later payments and write-offs blanked."""
    inv = invoices.loc[pd.to_datetime(invoices["invoice_date"]) < t].copy()
    for col in ("paid_date", "written_off_date", "dispute_date"):
        if col in inv:
            dates = pd.to_datetime(inv[col])
            inv[col] = dates.where(dates < t)
    return inv
