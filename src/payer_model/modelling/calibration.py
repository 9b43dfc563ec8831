"""Probability calibration and ordinal decision rules of the XGBoost rating model.

:class:`Calibrator` maps one binary booster's raw probability to a calibrated one;
:func:`cumulative_to_proba`, :func:`decide` and :func:`best_thresholds` turn the two
cumulative probabilities ``A = P(rating >= average)`` and ``B = P(rating = bad)`` into class
probabilities and a rating index (0 good, 1 average, 2 bad).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from payer_model.data.schema import RATINGS

MIN_ISOTONIC_ROWS = 200
"""Below this many validation rows a calibrator is sigmoid only."""


class Calibrator:
    """Monotone probability calibration for one binary booster: isotonic or sigmoid.

    The method is chosen by 2-fold cross-fitted log loss on the time-later validation slice
    (isotonic tends to win on large slices, sigmoid on small ones), then refitted on the
    whole slice. Both maps are non-decreasing, so calibration keeps the monotone guarantee.
    Stored as plain numbers (JSON), never pickled.
    """

    def __init__(self, method: str = "identity", params: dict[str, Any] | None = None) -> None:
        self.method = method
        self.params = params or {}

    @staticmethod
    def _fit_method(method: str, p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip")
            iso.fit(p, y)
            return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4).fit(logit(p)[:, None], y)
        a = max(float(lr.coef_[0, 0]), 1e-6)  # keep it increasing
        return {"a": a, "b": float(lr.intercept_[0])}

    @staticmethod
    def _apply(method: str, params: dict[str, Any], p: np.ndarray) -> np.ndarray:
        if method == "isotonic":
            return np.interp(p, params["x"], params["y"])
        if method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(params["a"] * logit(p) + params["b"])))
        return p

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        """Choose and fit the calibration map on validation probabilities ``p``."""
        y = np.asarray(y, dtype=float)
        if len(np.unique(y)) < 2 or len(y) < 20:
            self.method, self.params = "identity", {}
            return self
        rng = np.random.default_rng(0)
        fold = rng.integers(0, 2, len(y))
        losses = {}
        # isotonic steps learnt on a few dozen rows put probabilities near 0 or 1 that the
        # next rows contradict; small slices get the two-parameter sigmoid only
        methods = ("isotonic", "sigmoid") if len(y) >= MIN_ISOTONIC_ROWS else ("sigmoid",)
        for method in methods:
            loss = 0.0
            for k in (0, 1):
                tr, te = fold != k, fold == k
                if len(np.unique(y[tr])) < 2:
                    loss = np.inf
                    break
                q = np.clip(
                    self._apply(method, self._fit_method(method, p[tr], y[tr]), p[te]),
                    1e-6,
                    1 - 1e-6,
                )
                loss -= float(np.sum(y[te] * np.log(q) + (1 - y[te]) * np.log(1 - q)))
            losses[method] = loss
        self.method = min(losses, key=losses.get)
        self.params = self._fit_method(self.method, p, y)
        self.cv_log_loss_ = {k: v / len(y) for k, v in losses.items()}
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        return self._apply(self.method, self.params, np.asarray(p, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"method": self.method, "params": self.params}


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of ``p``, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def cumulative_to_proba(cum: np.ndarray) -> np.ndarray:
    """Class probabilities ``(1 - A, A - B, B)`` from the cumulative columns ``(A, B)``."""
    a, b = cum[:, 0], cum[:, 1]
    return np.column_stack([1.0 - a, a - b, b])


def decide(cum: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """Rating index: bad when ``B >= tau_bad``, else average when ``A >= tau_avg``, else good."""
    tau_avg, tau_bad = thresholds
    return np.where(cum[:, 1] >= tau_bad, 2, np.where(cum[:, 0] >= tau_avg, 1, 0))


def macro_f1(y: np.ndarray, pred: np.ndarray, present: list[int] | None = None) -> float:
    """Macro-F1 over the classes ``present`` (default: those in ``y``); numpy only.

    Equal to scikit-learn's ``f1_score(average="macro", zero_division=0)`` with
    ``labels=present``, without its per-call overhead (the threshold grid calls it often).
    """
    y = np.asarray(y)
    pred = np.asarray(pred)
    present = sorted(set(y.tolist())) if present is None else present
    if not present:
        return 0.0
    scores = []
    for c in present:
        tp = float(np.sum((y == c) & (pred == c)))
        fp = float(np.sum((y != c) & (pred == c)))
        fn = float(np.sum((y == c) & (pred != c)))
        den = 2 * tp + fp + fn
        scores.append(2 * tp / den if den else 0.0)
    return float(np.mean(scores))


def best_thresholds(cum: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Thresholds maximising validation macro-F1 (grid search; ties keep the first)."""
    grid = np.round(np.arange(0.2, 0.81, 0.05), 2)
    present = sorted(set(np.asarray(y).tolist()))
    best, best_f1 = (0.5, 0.5), -1.0
    for ta in grid:
        for tb in grid:
            f1 = macro_f1(y, decide(cum, (ta, tb)), present)
            if f1 > best_f1 + 1e-9:
                best, best_f1 = (float(ta), float(tb)), f1
    return best


def calibrate_cumulative(calibrators: list[Calibrator], raw: np.ndarray) -> np.ndarray:
    """Both cumulative heads calibrated, ``B`` capped at ``A`` (ordered probabilities)."""
    a = calibrators[0].transform(raw[:, 0])
    b = calibrators[1].transform(raw[:, 1])
    return np.column_stack([a, np.minimum(a, b)])


def fit_decision(raw: np.ndarray, y: np.ndarray) -> tuple[list[Calibrator], tuple[float, float]]:
    """Calibrators of both cumulative heads and the macro-F1 thresholds, fitted on ``raw``."""
    cal = [Calibrator().fit(raw[:, k], (y >= k + 1).astype(float)) for k in (0, 1)]
    return cal, best_thresholds(calibrate_cumulative(cal, raw), y)


class CumulativeRating:
    """Ratings and class probabilities from calibrated cumulative heads (one rule).

    A rating model that provides ``raw_heads(features)`` (uncalibrated ``P(rating >=
    average)``, ``P(bad)`` per row), ``calibrators_`` and ``thresholds_`` (both from
    :func:`fit_decision`) gets ``cumulative``, ``predict``, ``predict_proba`` and
    ``predict_rating`` from here, so the XGBoost, linear and blended models decide alike.
    """

    calibrators_: list[Calibrator]
    thresholds_: tuple[float, float]

    def raw_heads(self, features: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Uncalibrated cumulative probabilities ``(A, B)`` per row."""
        raise NotImplementedError

    def cumulative(self, features: Any) -> np.ndarray:
        """Calibrated cumulative probabilities ``(A, B)`` per row."""
        return calibrate_cumulative(self.calibrators_, self.raw_heads(features))

    def predict(self, features: Any) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities (n, 3) in ``RATINGS`` order, rating per row), one pass."""
        if len(features) == 0:
            return np.zeros((0, len(RATINGS))), np.asarray([], dtype=object)
        cum = self.cumulative(features)
        rating = np.asarray(RATINGS, dtype=object)[decide(cum, self.thresholds_)]
        return cumulative_to_proba(cum), rating

    def predict_proba(self, features: Any) -> np.ndarray:
        """Class probabilities (n, 3) in ``RATINGS`` order."""
        return self.predict(features)[0]

    def predict_rating(self, features: Any) -> np.ndarray:
        """Rating per row from the cumulative probabilities and thresholds."""
        return self.predict(features)[1]
