"""Learned chasing, evaluated off-policy (``payer-model policy evaluate``).

From the randomised chasing log (``chase_log`` of a data folder, see
:mod:`payer_model.data.chase`): the uplift model is trained on the decisions whose 30-day
outcomes were known before ``--from`` (as of the evaluation start, nothing later), then the
learned policy (best uplift per cost, from the policy file's ``chase`` costs), the fixed
playbook (each segment's first contact) and the one-size-fits-all baseline are evaluated on
the decisions in ``[--from, --to)`` by inverse propensity and doubly robust estimates with
bootstrap intervals. Customers are rated as of each month start by the rule rating (12-month
mean days late at the label thresholds), so no registered model is needed. When the folder
holds the generator's truth, the recovered channel effects are checked against it. The
training run, with its model card, goes to MLflow when a tracking URI is given.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import TrainConfig
from payer_model.data.chase import NO_REMINDER
from payer_model.policy.chasing import (
    CONTEXT_FEATURES,
    compare_policies,
    decision_frame,
    observed_until,
)
from payer_model.policy.learned import choose_actions, playbook_action, sequence_action
from payer_model.policy.policies import Chase, PolicySet
from payer_model.policy.simulate import BASELINE_SEQUENCE

log = logging.getLogger(__name__)

EXPERIMENT = "chase_uplift"
DEFAULT_CHASE = Chase(
    costs={"email": 1.0, "sms": 1.5, "letter": 4.0, "call": 12.0}, useless_cost=5.0
)
"""Costs used when the policy file has no ``chase`` section."""
EFFECT_TOLERANCE = 0.2
"""Recovered effects are checked against the truth within this relative tolerance."""


def read_chase_log(data: str | Path) -> pd.DataFrame:
    """The decision log of a data folder (``chase_log.csv`` or ``.parquet``).

    Raises:
        FileNotFoundError: when the folder has none (generate one with ``--uplift``).
    """
    folder = Path(data)
    for name in ("chase_log.parquet", "chase_log.csv"):
        path = folder / name
        if path.exists():
            if path.suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, parse_dates=["decision_date"])
    raise FileNotFoundError(
        f"{folder}: no chase_log.csv: off-policy evaluation needs a randomised decision log "
        "(payer-model generate --uplift writes one)"
    )


def evaluation_truth(data: str | Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The generator's ``truth.csv`` and ``chase_truth.csv`` of a folder, or (None, None)."""
    folder = Path(data)
    truth = folder / "truth.csv"
    chase_truth = folder / "chase_truth.csv"
    if not (truth.exists() and chase_truth.exists()):
        return None, None
    return pd.read_csv(truth), pd.read_csv(chase_truth)


def _segments(feats: pd.DataFrame, cfg: TrainConfig, policies: PolicySet) -> pd.DataFrame:
    from payer_model.modelling.baselines import rule_rating

    rated = feats.assign(rating=rule_rating(feats, cfg.labels).fillna("unrated"))
    rated["segment"] = policies.assign(rated).to_numpy()
    out = rated[["customer_id", "as_of", "segment"]].rename(columns={"as_of": "month"})
    out["month"] = pd.to_datetime(out["month"]).astype("datetime64[us]")
    out["customer_id"] = out["customer_id"].astype(str)
    return out


def effect_check(
    uplift: pd.DataFrame, archetypes: pd.Series, chase_truth: pd.DataFrame, min_rows: int = 300
) -> dict[str, Any]:
    """Mean predicted uplift (14 days) per archetype and action / channel against the truth.

    A cell is checked when its archetype has ``min_rows`` evaluated decisions and the true
    uplift is at least 0.05 (a relative tolerance on a tiny effect is noise). Channel
    effects average the channel's timings.
    """
    pred = uplift.groupby(archetypes.to_numpy()).mean().stack().rename("estimated")
    true = chase_truth[chase_truth["horizon"] == 14].set_index(["archetype", "action"])
    cells = pd.concat([pred, true["uplift"].rename("true")], axis=1, join="inner")
    cells.index.names = ["archetype", "action"]
    cells = cells.reset_index()
    n = archetypes.value_counts()
    cells["channel"] = cells["action"].str.extract(r"^([a-z]+)")[0]
    channels = cells.groupby(["archetype", "channel"], as_index=False)[
        ["estimated", "true"]
    ].mean()
    out: dict[str, Any] = {}
    for name, frame in (("cells", cells), ("channels", channels)):
        frame["rel_error"] = (frame["estimated"] - frame["true"]) / frame["true"]
        frame["checked"] = frame["archetype"].map(n).fillna(0).ge(min_rows) & (
            frame["true"] >= 0.05
        )
        ok = frame.loc[frame["checked"], "rel_error"].abs() <= EFFECT_TOLERANCE
        out[f"{name}_checked"] = int(frame["checked"].sum())
        out[f"{name}_within_20pct"] = int(ok.sum())
        out[name] = frame.round(4).to_dict("records")
    out["within_20pct"] = out["channels_within_20pct"]
    out["share_within_20pct"] = (
        round(out["channels_within_20pct"] / out["channels_checked"], 3)
        if out["channels_checked"]
        else None
    )
    return out


def evaluate_chasing(  # noqa: PLR0913 - the evaluation's knobs
    tables: dict[str, Any],
    chase_log: pd.DataFrame,
    date_from: str,
    date_to: str,
    cfg: TrainConfig,
    policies: PolicySet,
    *,
    tracking_uri: str | None = None,
    truth: pd.DataFrame | None = None,
    chase_truth: pd.DataFrame | None = None,
    n_boot: int = 200,
    useless_days: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the uplift model before ``date_from``, compare policies on ``[from, to)``.

    Returns:
        Window, decision counts, arms, the overall and per-segment comparison (IPS / DR with
        intervals; differences against the playbook), the truth check when given, the run id.
    """
    from payer_model.features import compute
    from payer_model.modelling.uplift import UpliftModel

    lo, hi = pd.Timestamp(date_from).normalize(), pd.Timestamp(date_to).normalize()
    if hi <= lo:
        raise ValueError(f"--to {hi.date()} must be after --from {lo.date()}")
    inv = tables["invoices"]
    data_end = max(inv["invoice_date"].max(), inv["paid_date"].max()) + pd.Timedelta(days=1)
    dates = pd.to_datetime(chase_log["decision_date"])
    months = pd.date_range(dates.min().to_period("M").to_timestamp(), dates.max(), freq="MS")
    feats = compute(tables, list(months), cfg)
    frame = decision_frame(chase_log, inv, feats, useless_days)
    frame = frame.merge(_segments(feats, cfg, policies), on=["customer_id", "month"], how="left")
    frame["segment"] = frame["segment"].fillna(policies.default_segment)
    d = frame["decision_date"]
    train = frame[d + pd.Timedelta(days=30) < lo]
    test = frame[(d >= lo) & (d < hi) & observed_until(frame, data_end)].reset_index(drop=True)
    if len(train) < 500 or not len(test):
        raise ValueError(
            f"{len(train)} decisions with known outcomes before {lo.date()} and {len(test)} "
            f"evaluable in [{lo.date()}, {hi.date()}) (outcomes need {60} days before the "
            f"data end {data_end.date()}): move --from / --to"
        )
    model = UpliftModel(horizons=(7, 14, 30), seed=seed).fit(
        train[list(CONTEXT_FEATURES)],
        train["action"],
        {h: train[f"paid_{h}"].to_numpy() for h in (7, 14, 30)},
    )
    x = test[list(CONTEXT_FEATURES)]
    chase = policies.chase or DEFAULT_CHASE
    uplift = model.predict_uplift(x, chase.horizon_days)
    playbook = {
        s.name: playbook_action(s.policy, chase.fallback_channel) for s in policies.segments
    }
    p_useless = _useless_model(train, x, uplift.columns, seed) if chase.useless_cost else None
    targets = {
        "learned": choose_actions(uplift, test["amount"], chase, p_useless=p_useless),
        "playbook": test["segment"].map(playbook).fillna(NO_REMINDER),
        "baseline": pd.Series(sequence_action(BASELINE_SEQUENCE), index=test.index),
    }
    q = {
        "paid_14": model.predict_outcome(x, 14),
        "cash_30": model.predict_outcome(x, 30).mul(test["amount"].to_numpy(), axis=0),
    }
    kw = {"n_boot": n_boot, "seed": seed}
    result: dict[str, Any] = {
        "date_from": str(lo.date()),
        "date_to": str(hi.date()),
        "policy_version": policies.policy_version,
        "train_decisions": len(train),
        "arm_rows": model.arm_rows_,
        "playbook_actions": playbook,
        "baseline_action": sequence_action(BASELINE_SEQUENCE),
        "learned_actions": targets["learned"].value_counts().to_dict(),
        "all": compare_policies(test, targets, q, **kw),
        "segments": {},
    }
    for name, part in test.groupby("segment"):
        idx = part.index
        result["segments"][name] = compare_policies(
            part, {k: v.loc[idx] for k, v in targets.items()},
            {k: v.loc[idx] for k, v in q.items()}, **kw,
        )  # fmt: skip
    if truth is not None and chase_truth is not None:
        arch = test["customer_id"].map(truth.set_index("customer_id")["archetype"])
        full = model.predict_uplift(x, 14)
        result["truth_check"] = effect_check(full, arch, chase_truth)
    if tracking_uri:
        result["run_id"] = _track(model, result, tracking_uri, chase)
    return result


def _useless_model(
    train: pd.DataFrame, x: pd.DataFrame, actions: pd.Index, seed: int
) -> pd.DataFrame:
    """P(paid within 3 days of each action's send day anyway), from the no-reminder arm."""
    from payer_model.data.chase import TIMINGS, parse_action
    from payer_model.modelling.uplift import TLearner

    none = train[train["action"] == NO_REMINDER]
    by_timing = {}
    for t in TIMINGS:
        learner = TLearner(seed=seed).fit(
            none[list(CONTEXT_FEATURES)], none["action"], none[f"anyway_{t}"].to_numpy()
        )
        by_timing[t] = learner.predict_outcome(x)[NO_REMINDER].to_numpy()
    return pd.DataFrame(
        {a: by_timing[parse_action(a)[1]] for a in actions},  # type: ignore[index]
        index=x.index,
    )


def _track(model: Any, result: dict[str, Any], tracking_uri: str, chase: Chase) -> str:
    """Log the uplift training run: params, metrics, model card, boosters (JSON)."""
    from payer_model.adapters import registry, tracking
    from payer_model.modelling.uplift import DEFAULT_PARAMS, MODEL_CARD

    exp_id = registry.ensure_experiment(EXPERIMENT, tracking_uri)
    with tracking.start_run(exp_id, run_name="uplift_t_learner") as run_id:
        tracking.set_tags({"job": "policy-evaluate", "causal_scope": "logged randomisation"})
        tracking.log_params(
            {**{f"xgb.{k}": v for k, v in {**DEFAULT_PARAMS, **model.params}.items()},
             "horizons": ",".join(map(str, model.horizons)), "min_rows": model.min_rows,
             "train_decisions": result["train_decisions"], "value_pct": chase.value_pct,
             **{f"cost.{k}": v for k, v in chase.costs.items()}}
        )  # fmt: skip
        metrics: dict[str, float] = {}
        for name, metrics_of in result["all"]["policies"].items():
            for metric, methods in metrics_of.items():
                for method, est in methods.items():
                    metrics[f"{name}_{metric}_{method}"] = est["value"]
        if "truth_check" in result and result["truth_check"]["share_within_20pct"] is not None:
            metrics["effects_within_20pct"] = result["truth_check"]["share_within_20pct"]
        tracking.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        tracking.log_text(MODEL_CARD, "model_card.md")
        tracking.log_json(result, "evaluation.json")
        with tempfile.TemporaryDirectory() as tmp:  # boosters as XGBoost JSON, never pickle
            for h, learner in model.learners_.items():
                for action, clf in learner.models_.items():
                    path = Path(tmp) / f"h{h}" / f"{action}.json"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    clf.get_booster().save_model(str(path))
            tracking.log_artifact(tmp, "uplift_model")
    return run_id
