"""The two baselines every model must beat out of time (DESIGN §4).

* **rule**: the amount-weighted mean days late over the last 12 months (lifetime when the
  window is empty), bucketed at the label thresholds — what most AR tools call a rating;
* **persistence**: last period's realised label, i.e. the label at ``T - H - G``, which is
  fully observed by T (feature ``prev_label``, see
  :func:`payer_model.features.labels.previous_period`).
"""

from __future__ import annotations

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


def rule_rating_sql(alias: str, cfg: LabelConfig) -> str:
    """The SQL twin of :func:`rule_rating` over feature rows ``alias`` (NULL: no payment)."""
    mean = f"coalesce({alias}.wmean_days_late_12m, {alias}.wmean_days_late)"
    return (
        f"CASE WHEN {mean} IS NULL THEN NULL "
        f"WHEN {mean} > {float(cfg.bad_min_mean_days_late)!r} THEN 'bad' "
        f"WHEN {mean} <= {float(cfg.good_max_mean_days_late)!r} THEN 'good' "
        "ELSE 'average' END"
    )
