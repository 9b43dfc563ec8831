"""The T-learner recovers effects planted in simulated randomised data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payer_model.modelling.uplift import NO_ACTION, TLearner, UpliftModel, average_uplift


def _simulate(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, dict[int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"x1": rng.random(n), "x2": rng.normal(size=n), "noise": rng.random(n)})
    actions = rng.choice([NO_ACTION, "email+3", "call+3"], size=n, p=[0.4, 0.3, 0.3])
    base = 1 / (1 + np.exp(-(-0.5 + x["x2"].to_numpy())))
    # planted: email +0.05 everywhere; call +0.20 only when x1 > 0.5, nothing otherwise
    tau = np.where(actions == "email+3", 0.05, 0.0)
    tau = tau + np.where((actions == "call+3") & (x["x1"].to_numpy() > 0.5), 0.20, 0.0)
    p14 = np.clip(base + tau, 0, 1)
    y14 = (rng.random(n) < p14).astype(float)
    y7 = y14 * (rng.random(n) < 0.6)
    return x, actions, {7: y7, 14: y14}


@pytest.mark.parametrize("learner", ["t", "x"])
def test_learner_recovers_planted_effects(learner: str) -> None:
    x, actions, y = _simulate(24_000, seed=1)
    model = UpliftModel(horizons=(14,), learner=learner).fit(x, actions, y)
    up = model.predict_uplift(x, horizon=14)
    assert set(up.columns) == {"email+3", "call+3"}
    groups = np.where(x["x1"] > 0.5, "hi", "lo")
    avg = average_uplift(up, groups)
    assert avg.loc["hi", "call+3"] == pytest.approx(0.20, abs=0.04)
    assert avg.loc["lo", "call+3"] == pytest.approx(0.0, abs=0.04)
    assert avg.loc["hi", "email+3"] == pytest.approx(0.05, abs=0.04)
    assert avg.loc["lo", "email+3"] == pytest.approx(0.05, abs=0.04)
    # the learned ranking follows the planted heterogeneity
    assert (up["call+3"] > up["email+3"]).groupby(groups).mean()["hi"] > 0.8


def test_uplift_model_without_control_arm_is_refused() -> None:
    x, actions, y = _simulate(2_000, seed=2)
    keep = actions != NO_ACTION
    with pytest.raises(ValueError, match="control arm 'none'"):
        TLearner().fit(x[keep], actions[keep], y[14][keep])


def test_small_arm_is_not_modelled() -> None:
    x, actions, y = _simulate(3_000, seed=3)
    actions = actions.astype(object)
    actions[:20] = "letter+10"
    model = TLearner(min_rows=50).fit(x, actions, y[14])
    assert "letter+10" not in model.actions_
    assert model.arm_rows_["letter+10"] == 20
