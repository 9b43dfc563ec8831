"""Off-policy evaluation: the value of a target policy from logged decisions.

Logged data: for each decision, the context, the action the logging policy drew, its
propensity (the probability the logging policy gave that action) and the reward observed.
A target policy gives, for each logged context, a probability per action (a deterministic
policy: 1 for its action, 0 otherwise).

* IPS (inverse propensity score): ``mean(pi(a_i | x_i) / p_i * r_i)``; unbiased when every
  action the target takes had a positive logging propensity.
* DR (doubly robust): ``mean(sum_a pi(a | x_i) q(x_i, a) + pi(a_i | x_i) / p_i *
  (r_i - q(x_i, a_i)))`` with an outcome model ``q``; unbiased if either the propensities or
  ``q`` are right, and of lower variance than IPS when ``q`` is good.

Intervals are percentile bootstraps over decisions (the same resamples for every estimate,
so the difference of two policies gets a paired interval). Pure numpy / pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap interval."""

    value: float
    lo: float
    hi: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict (rounded) for JSON output."""
        return {k: round(v, 6) for k, v in asdict(self).items()}


def _check(propensity: np.ndarray) -> None:
    if np.any(~np.isfinite(propensity)) or np.any(propensity <= 0) or np.any(propensity > 1):
        raise ValueError("propensity must be in (0, 1] for every logged decision")


def logged_target_prob(target: pd.DataFrame, logged_action: np.ndarray) -> np.ndarray:
    """pi(a_i | x_i): the target policy's probability of each logged action (0 if absent)."""
    cols = {c: j for j, c in enumerate(target.columns)}
    idx = np.array([cols.get(a, -1) for a in logged_action])
    arr = target.to_numpy(dtype=float)
    out = np.where(idx >= 0, arr[np.arange(len(arr)), np.maximum(idx, 0)], 0.0)
    return out


def ips_terms(reward: np.ndarray, propensity: np.ndarray, target_prob: np.ndarray) -> np.ndarray:
    """Per-decision IPS terms (their mean is the IPS estimate)."""
    _check(propensity)
    return target_prob / propensity * reward


def dr_terms(
    reward: np.ndarray,
    propensity: np.ndarray,
    target_prob: np.ndarray,
    q_logged: np.ndarray,
    q_target: np.ndarray,
) -> np.ndarray:
    """Per-decision doubly robust terms.

    Args:
        reward: observed rewards.
        propensity: logging probability of the logged action.
        target_prob: target probability of the logged action.
        q_logged: outcome model at the logged action.
        q_target: outcome model averaged over the target policy, ``sum_a pi(a|x) q(x, a)``.

    Returns:
        The terms whose mean is the DR estimate.
    """
    _check(propensity)
    return q_target + target_prob / propensity * (reward - q_logged)


def bootstrap_means(
    terms: Mapping[str, np.ndarray],
    n_boot: int = 200,
    alpha: float = 0.1,
    seed: int = 0,
    ratios: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Estimate]:
    """Mean of each term vector with a percentile interval from shared bootstrap resamples.

    Args:
        terms: name -> per-decision terms (all of the same length).
        n_boot: bootstrap resamples.
        alpha: 1 - coverage (0.1: a 90 % interval).
        seed: random seed.
        ratios: name -> (numerator, denominator) term names: the ratio of their means, with
            its interval from the same resamples (NaN where the denominator is 0).

    Returns:
        name -> :class:`Estimate`.
    """
    arrays = {k: np.asarray(v, dtype=float) for k, v in terms.items()}
    n = len(next(iter(arrays.values())))
    if n == 0:
        return {k: Estimate(float("nan"), float("nan"), float("nan")) for k in arrays}
    rng = np.random.default_rng(seed)
    # multinomial counts instead of index arrays: one (n_boot x n) weight matrix, one matmul
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float) / n
    out = {}
    boots = {}
    for k, v in arrays.items():
        boots[k] = counts @ v
        lo, hi = np.quantile(boots[k], [alpha / 2, 1 - alpha / 2])
        out[k] = Estimate(float(v.mean()), float(lo), float(hi))
    for k, (num, den) in (ratios or {}).items():
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = boots[num] / boots[den]
            value = out[num].value / out[den].value if out[den].value else float("nan")
        boot = boot[np.isfinite(boot)]
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if len(boot) else (np.nan,) * 2
        out[k] = Estimate(float(value), float(lo), float(hi))
    return out


def evaluate_policies(
    reward: np.ndarray,
    logged_action: np.ndarray,
    propensity: np.ndarray,
    targets: Mapping[str, pd.DataFrame],
    q: pd.DataFrame | None = None,
    *,
    n_boot: int = 200,
    alpha: float = 0.1,
    seed: int = 0,
) -> dict[str, dict[str, Estimate]]:
    """IPS (and DR when ``q`` is given) values of several target policies.

    Args:
        reward: observed rewards per logged decision.
        logged_action: the logged actions.
        propensity: logging propensities of the logged actions.
        targets: policy name -> action probabilities (rows = decisions, columns = actions).
        q: outcome model predictions per action (same columns as the targets), or None.
        n_boot: bootstrap resamples.
        alpha: 1 - interval coverage.
        seed: random seed (shared resamples: differences get paired intervals).

    Returns:
        ``{policy: {"ips": Estimate, "dr": Estimate}}`` (``dr`` only with ``q``).
    """
    r = np.asarray(reward, dtype=float)
    a = np.asarray(logged_action, dtype=object)
    p = np.asarray(propensity, dtype=float)
    terms: dict[str, np.ndarray] = {}
    for name, tgt in targets.items():
        tp = logged_target_prob(tgt, a)
        terms[f"{name}|ips"] = ips_terms(r, p, tp)
        if q is not None:
            qq = q.reindex(columns=tgt.columns).fillna(0.0).to_numpy(dtype=float)
            q_target = (tgt.to_numpy(dtype=float) * qq).sum(axis=1)
            q_logged = logged_target_prob(q.reindex(columns=tgt.columns).fillna(0.0), a)
            terms[f"{name}|dr"] = dr_terms(r, p, tp, q_logged, q_target)
    est = bootstrap_means(terms, n_boot=n_boot, alpha=alpha, seed=seed)
    out: dict[str, dict[str, Estimate]] = {}
    for key, e in est.items():
        name, method = key.split("|")
        out.setdefault(name, {})[method] = e
    return out


def deterministic(actions: pd.Series | np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Action probabilities (one-hot) of a deterministic policy choosing ``actions``."""
    acts = np.asarray(actions, dtype=object)
    return pd.DataFrame(
        {c: (acts == c).astype(float) for c in columns},
        index=actions.index if isinstance(actions, pd.Series) else None,
    )
