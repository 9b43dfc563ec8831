"""IPS and doubly robust estimators are unbiased for a simulated policy of known value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payer_model.policy.offpolicy import (
    bootstrap_means,
    deterministic,
    evaluate_policies,
    ips_terms,
)

ACTIONS = ["none", "email", "call"]


def _mu(x: np.ndarray) -> np.ndarray:
    """True P(reward | x, a) per action (columns as ACTIONS)."""
    base = 1 / (1 + np.exp(-x))
    return np.column_stack(
        [base * 0.6, base * 0.6 + 0.1, np.clip(base * 0.6 + 0.3 * (x > 0), 0, 1)]
    )


def _logged(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    x = rng.normal(size=n)
    # context-dependent logging: late payers (x < 0) get calls more often
    logits = np.column_stack([np.zeros(n), 0.3 * np.ones(n), -x])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    u = rng.random(n)
    a_idx = (u[:, None] > probs.cumsum(axis=1)).sum(axis=1)
    p = probs[np.arange(n), a_idx]
    r = (rng.random(n) < _mu(x)[np.arange(n), a_idx]).astype(float)
    return x, np.array(ACTIONS, dtype=object)[a_idx], p, r


def _target(x: np.ndarray) -> pd.DataFrame:
    return deterministic(np.where(x > 0, "call", "email"), ACTIONS)


def _truth(x: np.ndarray) -> float:
    return float(_mu(x)[np.arange(len(x)), np.where(x > 0, 2, 1)].mean())


def test_ips_and_dr_unbiased_over_repetitions() -> None:
    rng = np.random.default_rng(7)
    errs: dict[str, list[float]] = {"ips": [], "dr": [], "naive": []}
    for _ in range(150):
        x, a, p, r = _logged(2_000, rng)
        tgt = _target(x)
        # a deliberately wrong outcome model: DR must stay unbiased through the propensities
        q = pd.DataFrame({c: np.full(len(x), 0.5) for c in ACTIONS})
        est = evaluate_policies(r, a, p, {"t": tgt}, q, n_boot=20, seed=1)["t"]
        truth = _truth(x)
        errs["ips"].append(est["ips"].value - truth)
        errs["dr"].append(est["dr"].value - truth)
        match = a == np.where(x > 0, "call", "email")
        errs["naive"].append(r[match].mean() - truth)  # ignores the propensities
    assert abs(np.mean(errs["ips"])) < 0.006
    assert abs(np.mean(errs["dr"])) < 0.006
    # the band is tight enough to catch an estimator that ignores the logging policy
    assert abs(np.mean(errs["naive"])) > 0.02


def test_dr_with_true_outcome_model_has_lower_variance() -> None:
    rng = np.random.default_rng(11)
    ips, dr = [], []
    for _ in range(60):
        x, a, p, r = _logged(2_000, rng)
        q = pd.DataFrame(_mu(x), columns=ACTIONS)
        est = evaluate_policies(r, a, p, {"t": _target(x)}, q, n_boot=10)["t"]
        ips.append(est["ips"].value - _truth(x))
        dr.append(est["dr"].value - _truth(x))
    assert np.std(dr) < np.std(ips)


def test_bootstrap_interval_covers_truth_about_as_often_as_claimed() -> None:
    rng = np.random.default_rng(3)
    hits = 0
    reps = 100
    for k in range(reps):
        x, a, p, r = _logged(2_000, rng)
        est = evaluate_policies(r, a, p, {"t": _target(x)}, n_boot=200, alpha=0.1, seed=k)["t"]
        hits += est["ips"].lo <= _truth(x) <= est["ips"].hi
    assert 0.8 <= hits / reps <= 0.98


def test_bad_propensity_is_refused() -> None:
    with pytest.raises(ValueError, match="propensity"):
        ips_terms(np.ones(3), np.array([0.5, 0.0, 0.2]), np.ones(3))


def test_shared_resamples_give_paired_difference() -> None:
    v = np.random.default_rng(0).normal(size=500)
    est = bootstrap_means({"a": v, "b": v + 1.0, "d": -np.ones(500)}, n_boot=50)
    assert est["b"].value - est["a"].value == pytest.approx(1.0)
    assert est["d"].lo == pytest.approx(-1.0)
