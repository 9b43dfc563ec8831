"""Fit and evaluate a rating model out of time, and the promotion gate (DESIGN §4).

Pure computation: snapshots, the time split, the XGBoost model, both baselines and their
out-of-time metrics. Nothing is logged here; :mod:`payer_model.jobs.train` logs and
registers what :func:`fit_and_evaluate` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import TrainConfig
from payer_model.features.labels import LABEL_INDEX, CutoffPlan, data_range, plan_cutoffs
from payer_model.modelling.candidates import SHALLOW_PARAMS, Selection, select_candidate
from payer_model.modelling.evaluation import backtest, bootstrap_ci
from payer_model.modelling.metrics import classification_metrics
from payer_model.modelling.model import PersistenceBaseline, RuleRatingModel, XGBRatingModel
from payer_model.modelling.significance import gate_intervals
from payer_model.modelling.snapshots import build_snapshots, usable

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """Default progress callback: says nothing."""
    return None


def label_index(frame: pd.DataFrame) -> np.ndarray:
    """Realised labels of snapshot rows as class indices (0 good, 1 average, 2 bad)."""
    return frame["label"].map(LABEL_INDEX).to_numpy(dtype=int)


def rating_index(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's ratings (through its thresholds, not argmax) as class indices."""
    return np.asarray([LABEL_INDEX[r] for r in model.predict_rating(frame)], dtype=int)


def evaluate(model: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """Classification metrics of ``model`` on labelled snapshot rows."""
    return classification_metrics(
        label_index(frame), model.predict_proba(frame), rating_index(model, frame)
    )


def new_model(cfg: TrainConfig, params: dict[str, Any] | None = None) -> XGBRatingModel:
    """An unfitted XGBoost rating model from ``cfg.model``, ``params`` overriding its params."""
    m = cfg.model
    return XGBRatingModel(
        {**m.params, **(params or {})},
        m.num_boost_round,
        m.early_stopping_rounds,
        m.class_weights,
        m.seed,
    )


@dataclass
class FitResult:
    """Everything a training run produced, before anything is logged."""

    plan: CutoffPlan
    snapshots: pd.DataFrame
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    model: Any
    rule: RuleRatingModel
    persistence: PersistenceBaseline
    metrics: dict[str, Any] = field(default_factory=dict)
    selection: Selection | None = None


def split_snapshots(snap: pd.DataFrame, plan: CutoffPlan) -> dict[str, pd.DataFrame]:
    """Usable snapshot rows of the ``train``, ``val`` and ``test`` cutoffs.

    Raises:
        ValueError: one of the windows has no labelled, rated snapshot.
    """
    rows = usable(snap)
    parts = {
        name: rows[rows["as_of"].isin(pd.DatetimeIndex(cuts))].reset_index(drop=True)
        for name, cuts in (("train", plan.train), ("val", plan.val), ("test", plan.test))
    }
    for name, part in parts.items():
        if len(part) == 0:
            raise ValueError(f"no labelled, rated snapshots in the {name} window")
    return parts


def out_of_time_metrics(fit: FitResult) -> dict[str, Any]:
    """Model and baseline metrics on the test window, with the windows that produced them."""
    model, test, plan, snap = fit.model, fit.test, fit.plan, fit.snapshots
    y, groups = label_index(test), test["customer_id"].to_numpy()
    return {
        "model": evaluate(model, test),
        "significance": gate_intervals(
            y,
            model.predict_proba(test),
            rating_index(model, test),
            {
                "persistence": rating_index(fit.persistence, test),
                "rule": rating_index(fit.rule, test),
            },
            groups,
        ),
        "backtest": backtest(test, model.predict_rating(test)),
        "bootstrap": bootstrap_ci(
            label_index(test),
            model.predict_proba(test),
            rating_index(model, test),
            test["customer_id"].to_numpy(),
            n_boot=100,
        ),
        "calibration": [
            c.to_dict() | {"cv_log_loss": getattr(c, "cv_log_loss_", None)}
            for c in model.calibrators_
        ],
        "thresholds": list(model.thresholds_),
        "baselines": {
            "rule": evaluate(fit.rule, test),
            "persistence": evaluate(fit.persistence, test),
        },
        "test_window": {
            "cutoffs": [t.date().isoformat() for t in plan.test],
            "rows": len(test),
            "customers": int(test["customer_id"].nunique()),
            "unrated_excluded": int((~snap["rated"] & snap["as_of"].isin(plan.test)).sum()),
        },
        "train_window": {
            "cutoffs": [t.date().isoformat() for t in plan.train],
            "val_cutoffs": [t.date().isoformat() for t in plan.val],
            "rows": len(fit.train),
            "val_rows": len(fit.val),
        },
        "best_iteration": model.best_iteration_,
        "model_kind": model.kind,
        "selection": fit.selection.to_dict() if fit.selection is not None else None,
    }


def choose_model(train: pd.DataFrame, val: pd.DataFrame, cfg: TrainConfig) -> Selection:
    """Fit the candidates on ``train`` and choose one on ``val`` (never the test window)."""
    y_train = label_index(train)
    # the blend's anchor is the rule fitted on training rows only: validation judges it
    anchor = RuleRatingModel(cfg.labels).fit(train, y_train)
    return select_candidate(
        train,
        y_train,
        val,
        label_index(val),
        xgb=new_model(cfg),
        rule=anchor,
        shallow=new_model(cfg, SHALLOW_PARAMS),
    )


def fit_and_evaluate(
    tables: dict[str, pd.DataFrame | None], cfg: TrainConfig, progress: Progress = no_progress
) -> FitResult:
    """Build snapshots, train the model and both baselines, evaluate all out of time.

    Raises:
        InsufficientHistoryError: the data is too short for an out-of-time split.
    """
    start, end = data_range(tables["invoices"])
    plan = plan_cutoffs(start, end, cfg.labels, cfg.split)
    for note in plan.notes:
        log.warning(note)
    progress(f"building snapshots for {len(plan.all)} monthly cutoffs")
    snap = build_snapshots(tables, plan.all, cfg)
    parts = split_snapshots(snap, plan)
    progress(f"training candidates on {len(parts['train'])} snapshots")
    selection = choose_model(parts["train"], parts["val"], cfg)
    progress(f"candidate chosen on validation: {selection.chosen}")
    fit_rows = pd.concat([parts["train"], parts["val"]], ignore_index=True)
    rule = RuleRatingModel(cfg.labels).fit(fit_rows, label_index(fit_rows))
    persistence = PersistenceBaseline().fit(fit_rows, label_index(fit_rows))
    fit = FitResult(
        plan,
        snap,
        parts["train"],
        parts["val"],
        parts["test"],
        selection.model,
        rule,
        persistence,
        selection=selection,
    )
    fit.metrics = out_of_time_metrics(fit)
    return fit


def _significance_checks(sig: dict[str, Any], g: Any) -> list[tuple[bool, str]]:
    """Gate checks on the bootstrap intervals: gains' lower bounds and ECE's upper bound."""
    checks = []
    for name in ("persistence", "rule"):
        d = sig.get(f"vs_{name}")
        if d is None:
            continue
        checks.append(
            (
                d["lower"] > 0,
                f"macro-F1 gain over {name} {d['gain']:+.3f}, {d['level']:.0%} interval "
                f"[{d['lower']:+.3f}, {d['upper']:+.3f}]: lower bound > 0",
            )
        )
    e = sig.get("ece")
    if e is not None:
        checks.append(
            (
                e["upper"] <= g.max_ece,
                f"ECE {e['ece']:.3f}, {e['level']:.0%} bias-adjusted interval "
                f"[{e['lower']:.3f}, {e['upper']:.3f}]: upper bound vs max {g.max_ece}",
            )
        )
    return checks


def gate(
    metrics: dict[str, Any], cfg: TrainConfig, champion: dict[str, Any] | None = None
) -> tuple[bool, list[str]]:
    """Promotion gate: (passes, reasons) for a challenger's out-of-time metrics.

    With ``metrics["significance"]`` (paired customer bootstrap, :mod:`.significance`) the
    gains over persistence and rule must have a lower bound above zero and ECE an upper
    bound within the limit; without it (older metrics) the point values are checked.
    """
    mod = metrics["model"]
    per = metrics["baselines"]["persistence"]
    rule = metrics["baselines"]["rule"]
    g = cfg.gate
    sig = metrics.get("significance")
    checks = [
        (
            mod["macro_f1"] >= per["macro_f1"] + g.min_gain_over_persistence,
            f"macro-F1 {mod['macro_f1']:.3f} vs persistence {per['macro_f1']:.3f} "
            f"+ {g.min_gain_over_persistence}",
        ),
    ]
    if sig is None:
        checks.append(
            (
                mod["macro_f1"] >= rule["macro_f1"],
                f"macro-F1 {mod['macro_f1']:.3f} vs rule {rule['macro_f1']:.3f}",
            )
        )
    if mod.get("auc_bad") is not None:
        checks.append(
            (
                mod["auc_bad"] >= g.min_auc_bad,
                f"AUC(bad) {mod['auc_bad']:.3f} vs floor {g.min_auc_bad}",
            )
        )
    if sig is not None:
        checks += _significance_checks(sig, g)
    elif mod.get("ece") is not None:
        checks.append((mod["ece"] <= g.max_ece, f"ECE {mod['ece']:.3f} vs max {g.max_ece}"))
    if champion is not None:
        checks.append(
            (
                mod["macro_f1"] >= champion["macro_f1"],
                f"macro-F1 {mod['macro_f1']:.3f} vs champion {champion['macro_f1']:.3f}",
            )
        )
    reasons = [("pass: " if ok else "FAIL: ") + text for ok, text in checks]
    return all(ok for ok, _ in checks), reasons
