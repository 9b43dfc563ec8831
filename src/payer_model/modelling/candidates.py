"""Candidate rating models, chosen on the time-later validation cutoffs only.

Candidates: the ordinal XGBoost, a shallow, strongly regularised XGBoost (small data only),
the regularised ordinal linear model (:mod:`.linear`), the average of XGBoost and the linear
model, and the best of those shrunk toward the rule rating by a weight chosen on
validation. Every candidate
is fitted on the training cutoffs and calibrated on the validation cutoffs; the choice uses
**cross-fitted** validation metrics (calibration and thresholds fitted on one half of the
validation customers, scored on the other, and back), so a candidate does not win by
fitting its thresholds to the rows it is judged on, and a candidate replaces the configured
XGBoost only when its paired bootstrap gain is clearly positive. The test window is never
passed here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import RATINGS
from payer_model.modelling.blend import BlendRatingModel
from payer_model.modelling.calibration import (
    Calibrator,
    calibrate_cumulative,
    cumulative_to_proba,
    decide,
    fit_decision,
)
from payer_model.modelling.linear import LinearRatingModel
from payer_model.modelling.metrics import classification_metrics
from payer_model.modelling.model import RuleRatingModel, XGBRatingModel
from payer_model.modelling.significance import paired_gain

log = logging.getLogger(__name__)

BLEND_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 0.75)
"""Shrinkage toward the rule rating tried for the blend (0 = the model, 1 = the rule)."""
SMALL_DATA_ROWS = 300
"""Below this many training snapshots in some class, the shallow XGBoost is tried too."""
SHALLOW_PARAMS: dict[str, Any] = {
    "max_depth": 2,
    "min_child_weight": 20.0,
    "reg_lambda": 10.0,
    "colsample_bytree": 0.6,
}
"""Fewer, stronger splits for small portfolios (overrides of the configured params)."""
DEFAULT = "xgboost"
"""The configured model: another candidate replaces it only when clearly better."""
SWITCH_LEVEL = 0.6
"""Two-sided level of the paired bootstrap interval whose lower bound must be above zero for
a candidate to replace the default (a one-sided 80 % bound): one validation cutoff is noisy,
and a switch on noise costs out of time."""
F1_TOLERANCE = 0.01
"""Validation macro-F1 a candidate may give up against the default for better log loss."""
LOG_LOSS_GAIN = 0.005
"""How much lower its validation log loss must then be."""


def crossfit_metrics(
    raw: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0
) -> tuple[dict[str, Any], np.ndarray]:
    """Validation metrics with calibration and thresholds cross-fitted over customer halves.

    Returns:
        The metrics and the out-of-fold rating indices.
    """
    uniq, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    fold = np.random.default_rng(seed).integers(0, 2, len(uniq))[inverse]
    proba = np.zeros((len(y), len(RATINGS)))
    pred = np.zeros(len(y), dtype=int)
    for k in (0, 1):
        tr, te = fold != k, fold == k
        if not te.any():
            continue
        if tr.sum() == 0 or len(np.unique(y[tr])) < 2:
            cal, thr = [Calibrator(), Calibrator()], (0.5, 0.5)
        else:
            cal, thr = fit_decision(raw[tr], y[tr])
        cum = calibrate_cumulative(cal, raw[te])
        proba[te] = cumulative_to_proba(cum)
        pred[te] = decide(cum, thr)
    m = classification_metrics(y, proba, pred)
    return {k: m.get(k) for k in ("n", "macro_f1", "auc_bad", "log_loss", "ece", "brier")}, pred


@dataclass
class Selection:
    """The chosen candidate and every candidate's cross-fitted validation metrics."""

    chosen: str
    model: Any
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    blend_weight: float | None = None
    small_data: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly record (no model)."""
        return {
            "chosen": self.chosen,
            "kind": self.model.kind,
            "blend_weight": self.blend_weight,
            "small_data": self.small_data,
            "validation": self.metrics,
        }


def _pick(
    metrics: dict[str, dict[str, Any]],
    preds: dict[str, np.ndarray],
    y: np.ndarray,
    groups: np.ndarray,
) -> str:
    """The default, unless another candidate is clearly better on validation.

    1. A candidate whose paired bootstrap macro-F1 gain over the default has its lower bound
       above zero (``SWITCH_LEVEL``) wins; the largest such gain first. Every gain is recorded
       in ``metrics[name]["gain_vs_default"]``.
    2. Else the candidate with the lowest log loss wins if it beats the default's by at least
       ``LOG_LOSS_GAIN`` while losing no more than ``F1_TOLERANCE`` of macro-F1: the better
       probabilities (calibration matters to the gate and the users) at no cost in ratings.
    """
    best, best_gain = None, 0.0
    for name, m in metrics.items():
        if name == DEFAULT:
            continue
        g = paired_gain(y, preds[name], preds[DEFAULT], groups, n_boot=200, level=SWITCH_LEVEL)
        m["gain_vs_default"] = g
        if g["lower"] > 0 and g["gain"] > best_gain:
            best, best_gain = name, g["gain"]
    if best is not None:
        return best
    d = metrics[DEFAULT]
    better = [
        k
        for k, m in metrics.items()
        if k != DEFAULT
        and (m.get("macro_f1") or 0.0) >= (d.get("macro_f1") or 0.0) - F1_TOLERANCE
        and (m.get("log_loss") or np.inf) <= (d.get("log_loss") or np.inf) - LOG_LOSS_GAIN
    ]
    return min(better, key=lambda k: metrics[k]["log_loss"]) if better else DEFAULT


def _toward_rule(base: Any, rule: RuleRatingModel, w: float) -> BlendRatingModel:
    """``base`` shrunk toward the rule rating by ``w``."""
    if isinstance(base, BlendRatingModel):
        return BlendRatingModel([*base.members, rule], [(1 - w) * x for x in base.weights] + [w])
    return BlendRatingModel([base, rule], [1 - w, w])


def select_candidate(
    train: pd.DataFrame,
    y_train: np.ndarray,
    val: pd.DataFrame,
    y_val: np.ndarray,
    *,
    xgb: XGBRatingModel,
    rule: RuleRatingModel,
    shallow: XGBRatingModel | None = None,
) -> Selection:
    """Fit every candidate on ``train``, calibrate on ``val`` and choose one on ``val``.

    Args:
        train: training snapshots.
        y_train: their labels (class indices).
        val: validation snapshots (time-later than ``train``).
        y_val: their labels.
        xgb: the unfitted configured XGBoost model.
        rule: the rule rating fitted on training rows (the blend's anchor).
        shallow: an unfitted shallow XGBoost, tried when some class has fewer than
            ``SMALL_DATA_ROWS`` training snapshots.
    """
    groups = val["customer_id"].to_numpy()
    counts = np.bincount(y_train, minlength=len(RATINGS))
    small = bool(counts.min() < SMALL_DATA_ROWS)
    fitted: dict[str, Any] = {"xgboost": xgb.fit(train, y_train, val, y_val)}
    if small and shallow is not None:
        fitted["xgboost_shallow"] = shallow.fit(train, y_train, val, y_val)
    fitted["linear"] = LinearRatingModel().fit(train, y_train, val, y_val)
    fitted["xgboost_linear"] = BlendRatingModel([fitted["xgboost"], fitted["linear"]], [0.5, 0.5])
    metrics, preds = {}, {}
    for k, m in fitted.items():
        metrics[k], preds[k] = crossfit_metrics(m.raw_heads(val), y_val, groups)
    base_name = _pick(metrics, preds, y_val, groups)
    weight = None
    for w in BLEND_WEIGHTS:
        blend = _toward_rule(fitted[base_name], rule, w)
        name = f"{base_name}_rule_{w:g}"
        metrics[name], preds[name] = crossfit_metrics(blend.raw_heads(val), y_val, groups)
        fitted[name] = blend
    chosen = _pick(metrics, preds, y_val, groups)
    model = fitted[chosen]
    if isinstance(model, BlendRatingModel):
        model.fit(val, y_val)
        weight = model.weight or None
    log.info(
        "candidates on validation (macro-F1): %s; chosen %s",
        ", ".join(f"{k} {m['macro_f1']:.3f}" for k, m in metrics.items()),
        chosen,
    )
    return Selection(chosen, model, metrics, weight, small)
