"""Uplift of chasing actions: T- and X-learners on XGBoost (one outcome model per action).

For an open invoice at a decision date T and each candidate action (a channel at a timing,
or ``"none"``, no reminder), the model estimates P(paid within h days of T | context, action)
for each horizon h (7 and 14 days), and the *uplift* of an action is that probability minus
the one of ``"none"``. Trained on logged decisions of a randomised logging policy, the
difference is causal because the action was drawn independently of the outcome given the
context; trained on a playbook that always chases the same invoices it is not (see
:data:`MODEL_CARD`). Rows can be weighted by ``1 / propensity`` so that each arm's training
set looks like the whole population when the logging policy depends on the context.

Pure: numpy, pandas and XGBoost; no tracking, no IO.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

NO_ACTION = "none"
"""The control action: no reminder."""
HORIZONS: tuple[int, ...] = (7, 14)
"""Horizons (days after the decision date) of the outcome P(paid within h days)."""

DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 150,  # small arms: few shallow trees generalise best
    "max_depth": 3,
    "learning_rate": 0.05,
    "min_child_weight": 10.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
}

MODEL_CARD = """\
# Uplift model of chasing actions (X-learner on XGBoost)

**What it estimates.** For an invoice open at a decision date and each action (a reminder
channel at a timing relative to the due date, or no reminder) the change in P(paid within
7 / 14 days of the decision) that the action causes, relative to sending nothing.

**What it can claim.** The estimates are causal *only* under the logged randomisation: the
training decisions were drawn by a logging policy whose propensities are recorded and which
depends on nothing but the logged context, so every action was tried on comparable invoices.
On data from a fixed playbook (every invoice of a segment gets the same reminder) the same
code fits correlations, not effects, and must not drive decisions.

**What it cannot claim.** Effects of actions, timings or tones outside the logged action
set; effects on customers whose context was never randomised (new segments, new countries);
long-run effects (customers learning to wait for the reminder); effects beyond the horizons.
Arms with few logged rows are not modelled (see ``arm_rows``). Check any policy built on it
off-policy (IPS / doubly robust with intervals) before rolling it out, and keep a randomised
share of decisions so the model can be re-checked.
"""


def _xgb_classifier(params: Mapping[str, Any], seed: int) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(
        **{**DEFAULT_PARAMS, **params},
        objective="binary:logistic",
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
        verbosity=0,
    )


class TLearner:
    """One outcome model per action; uplift = outcome(action) - outcome(``none``).

    Args:
        params: XGBoost parameters overriding :data:`DEFAULT_PARAMS`.
        min_rows: arms with fewer logged rows (or fewer than 5 of either outcome) are not
            modelled.
        seed: random seed of the trees.
    """

    def __init__(
        self, params: Mapping[str, Any] | None = None, min_rows: int = 50, seed: int = 0
    ) -> None:
        self.params = dict(params or {})
        self.min_rows = min_rows
        self.seed = seed

    def fit(
        self,
        x: pd.DataFrame,
        actions: Sequence[str] | pd.Series,
        y: Sequence[float] | np.ndarray,
        weight: Sequence[float] | np.ndarray | None = None,
    ) -> TLearner:
        """Fit one classifier per action on the rows that received it.

        Args:
            x: numeric context features (one row per logged decision).
            actions: the logged action of each row (``"none"`` for no reminder).
            y: 1 when the outcome happened (paid within the horizon), else 0.
            weight: optional row weights (e.g. ``1 / propensity``).

        Returns:
            self

        Raises:
            ValueError: if the lengths differ or ``"none"`` has too few rows.
        """
        a = np.asarray(actions, dtype=object)
        yy = np.asarray(y, dtype=float)
        if not len(x) == len(a) == len(yy):
            raise ValueError(f"x, actions and y differ in length: {len(x)}, {len(a)}, {len(yy)}")
        w = np.ones(len(yy)) if weight is None else np.asarray(weight, dtype=float)
        self.features_ = list(x.columns)
        self.models_: dict[str, Any] = {}
        self.arm_rows_: dict[str, int] = {}
        self.constant_: dict[str, float] = {}
        for act in sorted(set(a.tolist())):
            m = a == act
            self.arm_rows_[act] = int(m.sum())
            pos = int(yy[m].sum())
            if m.sum() < self.min_rows or min(pos, int(m.sum()) - pos) < 5:
                if m.sum() >= self.min_rows:  # all paid (or none): a constant is the model
                    self.constant_[act] = float(np.average(yy[m], weights=w[m]))
                continue
            model = _xgb_classifier(self.params, self.seed)
            model.fit(x.loc[m].to_numpy(dtype=float), yy[m], sample_weight=w[m])
            self.models_[act] = model
        if NO_ACTION not in self.models_ and NO_ACTION not in self.constant_:
            raise ValueError(
                f"the control arm '{NO_ACTION}' has {self.arm_rows_.get(NO_ACTION, 0)} rows "
                f"(need {self.min_rows}): the logging policy must sometimes send nothing"
            )
        log.info("T-learner fitted %d arms: %s", len(self.actions_), self.arm_rows_)
        return self

    @property
    def actions_(self) -> list[str]:
        """Modelled actions (``none`` included)."""
        return sorted({*self.models_, *self.constant_})

    def predict_outcome(self, x: pd.DataFrame) -> pd.DataFrame:
        """P(outcome | x, action) per modelled action (columns), one row per row of ``x``."""
        arr = x[self.features_].to_numpy(dtype=float)
        out = {}
        for act in self.actions_:
            if act in self.models_:
                out[act] = self.models_[act].predict_proba(arr)[:, 1]
            else:
                out[act] = np.full(len(x), self.constant_[act])
        return pd.DataFrame(out, index=x.index)

    def predict_uplift(self, x: pd.DataFrame) -> pd.DataFrame:
        """Outcome(action) - outcome(``none``) per action other than ``none``."""
        mu = self.predict_outcome(x)
        return mu.drop(columns=[NO_ACTION]).sub(mu[NO_ACTION], axis=0)


def _xgb_regressor(params: Mapping[str, Any], seed: int) -> Any:
    from xgboost import XGBRegressor

    return XGBRegressor(
        **{**DEFAULT_PARAMS, **params},
        objective="reg:squarederror",
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
        verbosity=0,
    )


class XLearner(TLearner):
    """X-learner: the T-learner's outcome models, then the effect modelled directly.

    Stage 2 regresses imputed effects (``y - mu_none(x)`` on the rows that got the action,
    ``mu_action(x) - y`` on the ``none`` rows) on the context and blends the two by the arms'
    shares. Where the true effect is small (prompt payers) the effect model stays near zero
    instead of carrying the difference of two noisy outcome models, which is what decides
    whether a reminder is worth its cost.
    """

    def fit(
        self,
        x: pd.DataFrame,
        actions: Sequence[str] | pd.Series,
        y: Sequence[float] | np.ndarray,
        weight: Sequence[float] | np.ndarray | None = None,
    ) -> XLearner:
        """Fit the outcome models, then one effect model per action and side."""
        super().fit(x, actions, y, weight)
        a = np.asarray(actions, dtype=object)
        yy = np.asarray(y, dtype=float)
        w = np.ones(len(yy)) if weight is None else np.asarray(weight, dtype=float)
        mu = self.predict_outcome(x)
        ctrl = a == NO_ACTION
        self.effects_: dict[str, tuple[Any, Any, float]] = {}
        for act in self.models_:
            if act == NO_ACTION:
                continue
            treated = a == act
            share = treated.sum() / (treated.sum() + ctrl.sum())
            t_model = _xgb_regressor(self.params, self.seed)
            t_model.fit(
                x.loc[treated].to_numpy(dtype=float),
                yy[treated] - mu.loc[treated, NO_ACTION].to_numpy(),
                sample_weight=w[treated],
            )
            c_model = _xgb_regressor(self.params, self.seed)
            c_model.fit(
                x.loc[ctrl].to_numpy(dtype=float),
                mu.loc[ctrl, act].to_numpy() - yy[ctrl],
                sample_weight=w[ctrl],
            )
            self.effects_[act] = (t_model, c_model, float(share))
        return self

    def predict_uplift(self, x: pd.DataFrame) -> pd.DataFrame:
        """Blended effect per action: ``(1 - share) * tau_treated + share * tau_control``."""
        arr = x[self.features_].to_numpy(dtype=float)
        out = {}
        for act, (t_model, c_model, share) in self.effects_.items():
            # weight each side by the other arm's share (Kunzel et al.: g(x) on tau_0)
            out[act] = (1 - share) * t_model.predict(arr) + share * c_model.predict(arr)
        for act, const in self.constant_.items():
            if act != NO_ACTION:
                out[act] = np.full(len(x), const) - self.predict_outcome(x)[NO_ACTION].to_numpy()
        return pd.DataFrame(out, index=x.index)


LEARNERS = {"t": TLearner, "x": XLearner}


class UpliftModel:
    """An uplift learner per horizon: uplift in P(paid within 7 / 14 days).

    Args:
        horizons: outcome horizons in days.
        params: XGBoost parameters for every arm.
        min_rows: see :class:`TLearner`.
        seed: random seed.
        learner: ``"x"`` (:class:`XLearner`, default) or ``"t"`` (:class:`TLearner`).
    """

    def __init__(
        self,
        horizons: Sequence[int] = HORIZONS,
        params: Mapping[str, Any] | None = None,
        min_rows: int = 50,
        seed: int = 0,
        learner: str = "x",
    ) -> None:
        self.horizons = tuple(horizons)
        self.params = dict(params or {})
        self.min_rows = min_rows
        self.seed = seed
        self.learner = learner

    def fit(
        self,
        x: pd.DataFrame,
        actions: Sequence[str] | pd.Series,
        outcomes: Mapping[int, Sequence[float] | np.ndarray],
        weight: Sequence[float] | np.ndarray | None = None,
    ) -> UpliftModel:
        """Fit the learners; ``outcomes[h]`` is 1 when paid within ``h`` days of T."""
        missing = [h for h in self.horizons if h not in outcomes]
        if missing:
            raise ValueError(f"outcomes lack horizons {missing}")
        cls = LEARNERS[self.learner]
        self.learners_ = {
            h: cls(self.params, self.min_rows, self.seed).fit(x, actions, outcomes[h], weight)
            for h in self.horizons
        }
        return self

    @property
    def arm_rows_(self) -> dict[str, int]:
        """Logged rows per action."""
        return self.learners_[self.horizons[0]].arm_rows_

    def predict_uplift(self, x: pd.DataFrame, horizon: int = 14) -> pd.DataFrame:
        """Uplift per action (columns) in P(paid within ``horizon`` days)."""
        return self.learners_[horizon].predict_uplift(x)

    def predict_outcome(self, x: pd.DataFrame, horizon: int = 14) -> pd.DataFrame:
        """P(paid within ``horizon`` days) per action, ``none`` included."""
        return self.learners_[horizon].predict_outcome(x)


def average_uplift(
    uplift: pd.DataFrame, groups: pd.Series | np.ndarray | None = None
) -> pd.DataFrame:
    """Mean predicted uplift per action (columns), overall or per group (rows)."""
    if groups is None:
        return uplift.mean().to_frame("all").T
    return uplift.groupby(np.asarray(groups)).mean()
