"""Training snapshots: as-of features joined to realised labels over many cutoffs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import TrainConfig
from payer_model.features import compute
from payer_model.features.labels import label_snapshots
from payer_model.modelling.baselines import rule_rating

log = logging.getLogger(__name__)


def build_snapshots(
    tables: dict[str, pd.DataFrame | None],
    cutoffs: Sequence[pd.Timestamp],
    cfg: TrainConfig,
    *,
    with_labels: bool = True,
    **engine: Any,
) -> pd.DataFrame:
    """Features, label, rule rating and persistence label for each customer and cutoff.

    Args:
        tables: ``customers``, ``invoices`` and optional ``payments``, ``reminders``.
        cutoffs: the cutoffs T.
        cfg: training configuration.
        with_labels: join the realised label (False for scoring).
        **engine: engine selection passed to ``build_features`` (``engine="spark",
            spark=...``; see :func:`payer_model.features.engine_options`).

    Returns:
        Features plus ``label`` (may be missing), ``rule_rating`` and
        ``rated`` (enough paid invoices to be rated).
    """
    feats = compute(tables, list(cutoffs), cfg, **engine)
    feats["rated"] = feats["paid_n"] >= cfg.features.min_paid_invoices
    feats["rule_rating"] = rule_rating(feats, cfg.labels)
    if with_labels:
        lab = label_snapshots(tables["invoices"], list(cutoffs), cfg.labels)
        feats = feats.merge(lab, on=["customer_id", "as_of"], how="left")
    log.info("built %d snapshots over %d cutoffs", len(feats), len(cutoffs))
    return feats


def usable(snap: pd.DataFrame) -> pd.DataFrame:
    """Snapshots that train or evaluate the model: labelled and rated."""
    mask = snap["label"].notna() & snap["rated"].astype(bool)
    return snap.loc[mask].reset_index(drop=True)


def class_balance(snap: pd.DataFrame) -> pd.DataFrame:
    """Label counts per cutoff (for the notebooks and the logs)."""
    tab = pd.crosstab(snap["as_of"], snap["label"])
    return tab.reindex(columns=["good", "average", "bad"], fill_value=0).astype(np.int64)
