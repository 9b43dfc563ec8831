"""Candidate rating models, chosen on the time-later validation cutoffs only.

Candidates: the ordinal XGBoost, a shallow, strongly regularised XGBoost (small data only),
the regularised ordinal linear model (:mod:`.linear`) and a blend of the best of those with
the rule rating, shrunk toward the rule by a weight chosen on validation. Every candidate
is fitted on the training cutoffs and calibrated on the validation cutoffs; the choice uses
**cross-fitted** validation metrics (calibration and thresholds fitted on one half of the
validation customers, scored on the other, and back), so a candidate does not win by
fitting its thresholds to the rows it is judged on, and a candidate replaces the configured
XGBoost only when its paired bootstrap gain is clearly positive. The test window is never
passed here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import RATINGS
from payer_model.features.block import FeatureBlock
from payer_model.modelling.calibration import (
    Calibrator,
    best_thresholds,
    cumulative_to_proba,
    decide,
)
from payer_model.modelling.linear import LinearRatingModel
from payer_model.modelling.metrics import classification_metrics
from payer_model.modelling.model import SPEC_FILE, RuleRatingModel, XGBRatingModel
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


def _calibrate(calibrators: list[Calibrator], raw: np.ndarray) -> np.ndarray:
    a = calibrators[0].transform(raw[:, 0])
    b = calibrators[1].transform(raw[:, 1])
    return np.column_stack([a, np.minimum(a, b)])


def fit_decision(raw: np.ndarray, y: np.ndarray) -> tuple[list[Calibrator], tuple[float, float]]:
    """Calibrators of both cumulative heads and the macro-F1 thresholds, fitted on ``raw``."""
    cal = [Calibrator().fit(raw[:, k], (y >= k + 1).astype(float)) for k in (0, 1)]
    return cal, best_thresholds(_calibrate(cal, raw), y)


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
        cum = _calibrate(cal, raw[te])
        proba[te] = cumulative_to_proba(cum)
        pred[te] = decide(cum, thr)
    m = classification_metrics(y, proba, pred)
    return {k: m.get(k) for k in ("n", "macro_f1", "auc_bad", "log_loss", "ece", "brier")}, pred


class BlendRatingModel:
    """A rating model's calibrated cumulative probabilities shrunk toward the rule rating.

    ``A = (1 - w) A_model + w A_rule`` (and likewise ``B``), recalibrated and thresholded on
    validation. Reasons come from the base model's contributions scaled by ``1 - w`` (the
    rule part is the 12-month mean days late, already among the model's features).
    """

    kind = "blend"

    def __init__(self, base: Any, rule: RuleRatingModel, weight: float) -> None:
        self.base = base
        self.rule = rule
        self.weight = float(weight)

    @property
    def encoder_(self):
        """The base model's feature encoder."""
        return self.base.encoder_

    @property
    def reference_(self) -> dict[str, float]:
        """The base model's portfolio reference (training medians)."""
        return self.base.reference_

    @property
    def best_iteration_(self) -> int:
        """The base model's boosting rounds (0 for the linear model)."""
        return self.base.best_iteration_

    def raw_heads(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Blended cumulative probabilities before the blend's own calibration."""
        frame = features.to_frame() if isinstance(features, FeatureBlock) else features
        p_rule = self.rule.predict_proba(frame)
        rule_cum = np.column_stack([1.0 - p_rule[:, 0], p_rule[:, 2]])
        return (1.0 - self.weight) * self.base.cumulative(features) + self.weight * rule_cum

    def fit(self, val: pd.DataFrame, y_val: np.ndarray) -> BlendRatingModel:
        """Calibrate and threshold the blend on the validation rows (base already fitted)."""
        self.calibrators_, self.thresholds_ = fit_decision(self.raw_heads(val), y_val)
        return self

    def cumulative(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Calibrated cumulative probabilities ``(A, B)`` per row."""
        return _calibrate(self.calibrators_, self.raw_heads(features))

    def predict(self, features: pd.DataFrame | FeatureBlock) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities (n, 3) in ``RATINGS`` order, rating per row)."""
        if len(features) == 0:
            return np.zeros((0, len(RATINGS))), np.asarray([], dtype=object)
        cum = self.cumulative(features)
        rating = np.asarray(RATINGS, dtype=object)[decide(cum, self.thresholds_)]
        return cumulative_to_proba(cum), rating

    def predict_proba(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Class probabilities (n, 3) in ``RATINGS`` order."""
        return self.predict(features)[0]

    def predict_rating(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Rating per row."""
        return self.predict(features)[1]

    def contributions(self, features: pd.DataFrame | FeatureBlock, heads: np.ndarray):
        """The base model's contributions scaled by the base's share ``1 - w``."""
        return self.base.contributions(features, heads) * np.float32(1.0 - self.weight)

    def save(self, path: str | Path) -> Path:
        """Write ``spec.json`` and the base model's folder ``base/`` into ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.base.save(path / "base")
        spec = {
            "kind": self.kind,
            "classes": list(RATINGS),
            "weight": self.weight,
            "base": "base",
            "rule": {
                "labels": self.rule.labels.model_dump(),
                "table": self.rule.table_,
                "fallback": self.rule.fallback_,
                "reference": self.rule.reference_,
            },
            "thresholds": list(self.thresholds_),
            "calibrators": [c.to_dict() for c in self.calibrators_],
        }
        (path / SPEC_FILE).write_text(json.dumps(spec, indent=2))
        return path

    @classmethod
    def from_spec(cls, spec: dict, path: Path) -> BlendRatingModel:
        """Rebuild from a saved folder (no pickle)."""
        from payer_model.modelling.model import load_bundle

        m = cls(
            load_bundle(path / spec["base"]),
            RuleRatingModel.from_spec(spec["rule"], path),
            spec["weight"],
        )
        m.thresholds_ = tuple(spec["thresholds"])
        m.calibrators_ = [Calibrator(c["method"], c["params"]) for c in spec["calibrators"]]
        return m


def load_candidate(spec: dict, path: Path) -> LinearRatingModel | BlendRatingModel:
    """Rebuild a linear or blend model from its spec (called by ``load_bundle``)."""
    if spec["kind"] == LinearRatingModel.kind:
        return LinearRatingModel.from_spec(spec, path)
    return BlendRatingModel.from_spec(spec, path)


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
    """The default, unless a candidate's paired validation gain over it is clearly > 0.

    Each other candidate's cross-fitted macro-F1 gain over the default gets a paired customer
    bootstrap (recorded in ``metrics[name]["gain_vs_default"]``); among those whose lower
    bound is above zero the largest gain wins.
    """
    best, best_gain = DEFAULT, 0.0
    for name, m in metrics.items():
        if name == DEFAULT:
            continue
        g = paired_gain(y, preds[name], preds[DEFAULT], groups, n_boot=200, level=SWITCH_LEVEL)
        m["gain_vs_default"] = g
        if g["lower"] > 0 and g["gain"] > best_gain:
            best, best_gain = name, g["gain"]
    return best


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
    metrics, preds = {}, {}
    for k, m in fitted.items():
        metrics[k], preds[k] = crossfit_metrics(m.raw_heads(val), y_val, groups)
    base_name = _pick(metrics, preds, y_val, groups)
    weight = None
    for w in BLEND_WEIGHTS:
        blend = BlendRatingModel(fitted[base_name], rule, w)
        name = f"blend_{base_name}_{w:g}"
        metrics[name], preds[name] = crossfit_metrics(blend.raw_heads(val), y_val, groups)
        fitted[name] = blend
    chosen = _pick(metrics, preds, y_val, groups)
    model = fitted[chosen]
    if isinstance(model, BlendRatingModel):
        model.fit(val, y_val)
        weight = model.weight
    log.info(
        "candidates on validation (macro-F1): %s; chosen %s",
        ", ".join(f"{k} {m['macro_f1']:.3f}" for k, m in metrics.items()),
        chosen,
    )
    return Selection(chosen, model, metrics, weight, small)
