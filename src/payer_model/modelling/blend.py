"""A weighted mix of rating models (and the rule rating), recalibrated: JSON folders only.

Used by candidate selection (:mod:`.candidates`) for the average of XGBoost and the linear
model and for shrinking a model toward the rule rating. :func:`~.model.load_bundle` reads it
back, passing itself as ``load`` for the members (so this module imports no model class).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import RATINGS
from payer_model.features.block import FeatureBlock
from payer_model.modelling.calibration import (
    Calibrator,
    CumulativeRating,
    fit_decision,
)
from payer_model.modelling.encoding import SPEC_FILE


class BlendRatingModel(CumulativeRating):
    """A weighted mix of rating models' calibrated cumulative probabilities, recalibrated.

    ``A = sum_i w_i A_i`` (and likewise ``B``), recalibrated and thresholded on validation.
    Members are fitted rating models or the rule rating (its probability table): the
    average of XGBoost and the linear model, or a model shrunk toward the rule. Reasons sum
    the members' log-odds contributions times their weights (the rule has none: its input,
    the 12-month mean days late, is among the models' features).
    """

    kind = "blend"

    def __init__(self, members: list[Any], weights: list[float]) -> None:
        self.members = list(members)
        self.weights = [float(w) for w in weights]

    @property
    def _models(self) -> list[tuple[Any, float]]:
        return [(m, w) for m, w in zip(self.members, self.weights, strict=True) if _scored(m)]

    @property
    def encoder_(self):
        """The first model member's feature encoder."""
        return self._models[0][0].encoder_

    @property
    def reference_(self) -> dict[str, float]:
        """The first model member's portfolio reference (training medians)."""
        return self._models[0][0].reference_

    @property
    def best_iteration_(self) -> int:
        """The largest boosting rounds of the members (0 without XGBoost)."""
        return max(getattr(m, "best_iteration_", 0) for m, _ in self._models)

    @property
    def weight(self) -> float:
        """The rule's weight in the mix (0 when the rule is not a member)."""
        return sum(w for m, w in zip(self.members, self.weights, strict=True) if not _scored(m))

    def raw_heads(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Mixed cumulative probabilities before the blend's own calibration."""
        out = np.zeros((len(features), 2))
        for m, w in zip(self.members, self.weights, strict=True):
            if _scored(m):
                out += w * m.cumulative(features)
            else:
                frame = features.to_frame() if isinstance(features, FeatureBlock) else features
                p = m.predict_proba(frame)
                out += w * np.column_stack([1.0 - p[:, 0], p[:, 2]])
        return out

    def fit(self, val: pd.DataFrame, y_val: np.ndarray) -> BlendRatingModel:
        """Calibrate and threshold the mix on the validation rows (members already fitted)."""
        self.calibrators_, self.thresholds_ = fit_decision(self.raw_heads(val), y_val)
        return self

    def contributions(self, features: pd.DataFrame | FeatureBlock, heads: np.ndarray):
        """The model members' contributions, weighted (same columns: same training rows)."""
        parts = [np.float32(w) * m.contributions(features, heads) for m, w in self._models]
        return np.sum(parts, axis=0)

    def save(self, path: str | Path) -> Path:
        """Write ``spec.json`` and one folder per member (``member_<k>/``) into ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        names = []
        for k, m in enumerate(self.members):
            m.save(path / f"member_{k}")
            names.append(f"member_{k}")
        spec = {
            "kind": self.kind,
            "classes": list(RATINGS),
            "members": names,
            "weights": self.weights,
            "thresholds": list(self.thresholds_),
            "calibrators": [c.to_dict() for c in self.calibrators_],
        }
        (path / SPEC_FILE).write_text(json.dumps(spec, indent=2))
        return path

    @classmethod
    def from_spec(cls, spec: dict, path: Path, load: Callable[[Path], Any]) -> BlendRatingModel:
        """Rebuild from a saved folder (no pickle); ``load`` reads each member's folder."""
        m = cls([load(path / name) for name in spec["members"]], spec["weights"])
        m.thresholds_ = tuple(spec["thresholds"])
        m.calibrators_ = [Calibrator(c["method"], c["params"]) for c in spec["calibrators"]]
        return m


def _scored(model: Any) -> bool:
    """Whether a member has its own cumulative probabilities (not the rule's table)."""
    return hasattr(model, "cumulative")
