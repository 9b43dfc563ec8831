"""Regularised ordinal linear rating model (proportional odds, monotone signs), JSON only.

One weight vector ``w`` and two ordered cut points give the cumulative probabilities
``A = P(rating >= average) = sigmoid(z.w - a)`` and ``B = P(bad) = sigmoid(z.w - b)`` with
``b > a``. Inputs are the same encoded columns as the XGBoost model, each mapped through the
monotone ``sign(x) log(1 + |x|)`` (amounts and days are heavy-tailed), imputed with the
training median and standardised. Weights of the ``WORSE_WHEN_HIGHER`` features are bounded
at ``>= 0``, so worse lateness never improves the rating, as for XGBoost. The L2 strength is
chosen on the validation cutoffs; calibration and thresholds as for XGBoost. Saved as plain
JSON coefficients (no pickle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import RATINGS
from payer_model.features import WORSE_WHEN_HIGHER
from payer_model.features.block import FeatureBlock
from payer_model.modelling.calibration import (
    Calibrator,
    CumulativeRating,
    fit_decision,
)
from payer_model.modelling.encoding import (
    SPEC_FILE,
    FeatureEncoder,
    balanced_weights,
    feature_reference,
)

L2_GRID: tuple[float, ...] = (10.0, 100.0, 1000.0)
"""L2 strengths tried (per training row: the penalty is ``l2 / 2 * |w|^2 / n``)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _nll(theta: np.ndarray, z: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float):
    """Weighted proportional-odds negative log likelihood and its gradient."""
    p = z.shape[1]
    coef, a, d = theta[:p], theta[p], theta[p + 1]
    b = a + np.exp(d)
    eta = z @ coef
    s1, s2 = _sigmoid(eta - a), _sigmoid(eta - b)
    g1, g2 = s1 * (1 - s1), s2 * (1 - s2)
    eps = 1e-12
    mid = np.maximum(s1 - s2, eps)
    lik = np.where(y == 0, 1 - s1, np.where(y == 1, mid, s2))
    loss = -np.sum(w * np.log(np.maximum(lik, eps)))
    # d log-lik / d eta, / d a, / d b per row
    d_eta = np.where(y == 0, -s1, np.where(y == 1, (g1 - g2) / mid, 1 - s2))
    d_a = np.where(y == 0, s1, np.where(y == 1, -g1 / mid, 0.0))
    d_b = np.where(y == 0, 0.0, np.where(y == 1, g2 / mid, -(1 - s2)))
    n = max(float(w.sum()), 1.0)
    loss = loss / n + 0.5 * l2 * float(coef @ coef) / n
    grad = np.empty_like(theta)
    grad[:p] = -(z.T @ (w * d_eta)) / n + l2 * coef / n
    grad[p] = -np.sum(w * (d_a + d_b)) / n
    grad[p + 1] = -np.sum(w * d_b) * np.exp(d) / n
    return loss, grad


class LinearRatingModel(CumulativeRating):
    """Ordinal logistic rating with L2 and monotone signs; the XGBoost model's interface."""

    kind = "linear"

    def __init__(self, l2_grid: tuple[float, ...] = L2_GRID, class_weights: str = "balanced"):
        self.l2_grid = tuple(l2_grid)
        self.class_weights = class_weights

    # --- design matrix
    def _design(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        x = self.encoder_.transform(features).astype(np.float64)
        x = np.sign(x) * np.log1p(np.abs(x))
        x = np.where(np.isnan(x), self.center_, x)
        return (x - self.mean_) / self.scale_

    def _fit_design(self, train: pd.DataFrame) -> np.ndarray:
        x = self.encoder_.transform(train).astype(np.float64)
        x = np.sign(x) * np.log1p(np.abs(x))
        center = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
        self.center_ = np.nan_to_num(center)
        x = np.where(np.isnan(x), self.center_, x)
        self.mean_ = x.mean(axis=0)
        scale = x.std(axis=0)
        self.scale_ = np.where(scale > 1e-9, scale, 1.0)
        return (x - self.mean_) / self.scale_

    def _solve(
        self, z: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, theta0: np.ndarray | None
    ) -> np.ndarray:
        from scipy.optimize import minimize

        worse = set(WORSE_WHEN_HIGHER)
        bounds = [(0.0, None) if c in worse else (None, None) for c in self.encoder_.columns]
        bounds += [(None, None), (None, None)]
        theta0 = np.zeros(z.shape[1] + 2) if theta0 is None else theta0
        res = minimize(
            _nll, theta0, args=(z, y, w, l2), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": 200, "ftol": 1e-7},
        )  # fmt: skip
        return res.x

    def _weights(self, y: np.ndarray) -> np.ndarray:
        if self.class_weights == "balanced":
            return balanced_weights(y)
        return np.ones(len(y))

    def fit(
        self,
        train: pd.DataFrame,
        y_train: np.ndarray,
        val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
    ) -> LinearRatingModel:
        """Fit one model per L2 strength, keep the best on validation, then calibrate."""
        self.encoder_ = FeatureEncoder().fit(train)
        self.reference_ = feature_reference(train)
        z = self._fit_design(train)
        w = self._weights(y_train)
        has_val = val is not None and len(val) > 0
        zv = self._design(val) if has_val else None
        best, best_loss, theta = None, np.inf, None
        self.val_loss_: dict[str, float] = {}
        # strongest penalty first, each fit warm-started from the previous one
        for l2 in sorted(self.l2_grid, reverse=True):
            theta = self._solve(z, y_train, w, l2, theta)
            if not has_val:
                best = (l2, theta)
                break
            loss = _nll(theta, zv, y_val, self._weights(y_val), 0.0)[0]
            self.val_loss_[str(l2)] = float(loss)
            if loss < best_loss - 1e-9:
                best, best_loss = (l2, theta), loss
        self.l2_, theta = best
        p = z.shape[1]
        self.coef_ = theta[:p]
        self.cuts_ = (float(theta[p]), float(theta[p] + np.exp(theta[p + 1])))
        self.best_iteration_ = 0
        self.calibrators_ = [Calibrator(), Calibrator()]
        self.thresholds_ = (0.5, 0.5)
        if has_val:
            self.calibrators_, self.thresholds_ = fit_decision(self._raw_z(zv), y_val)
        return self

    # --- prediction
    def _raw_z(self, z: np.ndarray) -> np.ndarray:
        eta = z @ self.coef_
        return np.column_stack([_sigmoid(eta - self.cuts_[0]), _sigmoid(eta - self.cuts_[1])])

    def raw_heads(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Uncalibrated cumulative probabilities ``(A, B)`` per row."""
        return self._raw_z(self._design(features))

    def contributions(
        self,
        features: pd.DataFrame | FeatureBlock,
        heads: np.ndarray,  # noqa: ARG002 - both heads share the weights
    ) -> np.ndarray:
        """Log-odds contributions (n, columns + bias): ``w_j z_j``, bias last.

        Both cumulative heads share the weights, so ``heads`` does not change the answer;
        the bias is the head-0 intercept. Positive values raise the risk, as for XGBoost.
        """
        z = self._design(features)
        out = np.empty((len(z), z.shape[1] + 1), dtype=np.float32)
        out[:, :-1] = z * self.coef_
        out[:, -1] = -self.cuts_[0]
        return out

    # --- persistence (JSON only)
    def to_spec(self) -> dict[str, Any]:
        """The fitted model as JSON-friendly numbers."""
        return {
            "kind": self.kind,
            "classes": list(RATINGS),
            "vocab": self.encoder_.vocab,
            "columns": self.encoder_.columns,
            "center": self.center_.tolist(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "cuts": list(self.cuts_),
            "l2": self.l2_,
            "thresholds": list(self.thresholds_),
            "calibrators": [c.to_dict() for c in self.calibrators_],
            "reference": self.reference_,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``spec.json`` (coefficients and scaling) into ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / SPEC_FILE).write_text(json.dumps(self.to_spec(), indent=2))
        return path

    @classmethod
    def from_spec(cls, spec: dict, path: Path | None = None) -> LinearRatingModel:  # noqa: ARG003
        """Rebuild from its JSON spec."""
        m = cls()
        m.encoder_ = FeatureEncoder(spec["vocab"])
        if m.encoder_.columns != spec["columns"]:
            raise ValueError("model columns do not match this version's feature list")
        for name in ("center", "mean", "scale", "coef"):
            setattr(m, f"{name}_", np.asarray(spec[name], dtype=np.float64))
        m.cuts_ = tuple(spec["cuts"])
        m.l2_ = spec.get("l2")
        m.thresholds_ = tuple(spec["thresholds"])
        m.calibrators_ = [Calibrator(c["method"], c["params"]) for c in spec["calibrators"]]
        m.reference_ = spec.get("reference", {})
        m.best_iteration_ = 0
        return m
