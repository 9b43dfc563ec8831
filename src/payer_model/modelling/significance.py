"""Paired bootstrap over customers: is one rating model's macro-F1 really above another's?

Snapshots of one customer are correlated (the same payer at several cutoffs), so the unit
resampled is the customer, and both models are scored on the same resampled rows (paired),
which removes the noise both share. Used by the promotion gate (gain over persistence and
rule) and by candidate selection on validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from payer_model.modelling.calibration import macro_f1
from payer_model.modelling.metrics import expected_calibration_error


def _members(groups: np.ndarray) -> list[np.ndarray]:
    _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def _resamples(groups: np.ndarray, n_boot: int, seed: int):
    members = _members(groups)
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        pick = rng.integers(0, len(members), len(members))
        yield np.concatenate([members[k] for k in pick])


def paired_gain(
    y: np.ndarray,
    pred: np.ndarray,
    pred_ref: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 300,
    seed: int = 0,
    level: float = 0.90,
) -> dict[str, Any]:
    """Macro-F1 of ``pred`` minus that of ``pred_ref``, with a paired customer bootstrap.

    Returns:
        ``gain`` (on all rows), ``lower``/``upper`` (the two-sided ``level`` interval, so the
        lower bound is a one-sided ``(1 + level) / 2`` bound), ``p_le_0`` (share of
        resamples with no gain) and ``level``.
    """
    y, pred, pred_ref = (np.asarray(a) for a in (y, pred, pred_ref))
    gain = macro_f1(y, pred) - macro_f1(y, pred_ref)
    gains = np.asarray(
        [
            macro_f1(y[idx], pred[idx]) - macro_f1(y[idx], pred_ref[idx])
            for idx in _resamples(groups, n_boot, seed)
        ]
    )
    tail = (1.0 - level) / 2 * 100
    return {
        "gain": float(gain),
        "lower": float(np.percentile(gains, tail)),
        "upper": float(np.percentile(gains, 100 - tail)),
        "p_le_0": float(np.mean(gains <= 0)),
        "level": level,
    }


def ece_interval(
    y: np.ndarray,
    proba: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 300,
    seed: int = 0,
    level: float = 0.90,
) -> dict[str, float]:
    """Top-label ECE with a bias-adjusted customer-bootstrap interval.

    The plug-in ECE sums absolute bin errors, so sampling noise only ever adds to it, and a
    resample (duplicated customers) sits above the estimate by about the same amount again:
    plain percentiles count the noise twice and fail even a well calibrated model on a small
    test window. The resamples are therefore shifted by the bootstrap's estimate of that
    bias (their median minus the estimate) before the percentiles are read; the interval
    always contains the estimate. ``lower``/``upper`` are the adjusted bounds (what the gate
    uses), ``percentile_upper`` the plain percentile bound.
    """
    y, proba = np.asarray(y), np.asarray(proba)
    point = expected_calibration_error(y, proba)
    values = np.asarray(
        [expected_calibration_error(y[i], proba[i]) for i in _resamples(groups, n_boot, seed)]
    )
    bias = max(float(np.median(values)) - point, 0.0)
    tail = (1.0 - level) / 2 * 100
    return {
        "ece": point,
        "lower": max(float(np.percentile(values, tail)) - bias, 0.0),
        "upper": float(np.percentile(values, 100 - tail)) - bias,
        "percentile_upper": float(np.percentile(values, 100 - tail)),
        "bias": bias,
        "level": level,
    }


def gate_intervals(
    y: np.ndarray,
    proba: np.ndarray,
    pred: np.ndarray,
    baselines: dict[str, np.ndarray],
    groups: np.ndarray,
    *,
    n_boot: int = 300,
    level: float = 0.90,
) -> dict[str, Any]:
    """What the gate tests: the paired macro-F1 gain over each baseline and the ECE interval.

    Returns:
        ``vs_<baseline>`` (:func:`paired_gain`) per baseline and ``ece``
        (:func:`ece_interval`), all at ``level``.
    """
    out: dict[str, Any] = {
        f"vs_{name}": paired_gain(y, pred, ref, groups, n_boot=n_boot, level=level)
        for name, ref in baselines.items()
    }
    out["ece"] = ece_interval(y, proba, groups, n_boot=n_boot, level=level)
    return out
