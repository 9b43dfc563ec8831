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
from payer_model.modelling.evaluation import backtest, bootstrap_ci
from payer_model.modelling.metrics import classification_metrics
from payer_model.modelling.model import PersistenceBaseline, RuleRatingModel, XGBRatingModel
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
    model: XGBRatingModel
    rule: RuleRatingModel
    persistence: PersistenceBaseline
    metrics: dict[str, Any] = field(default_factory=dict)


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
    return {
        "model": evaluate(model, test),
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
            "unrated_excluded": int((~snap["rated"] & snap["as_of"].isin(plan.test)).sum()),
        },
        "train_window": {
            "cutoffs": [t.date().isoformat() for t in plan.train],
            "val_cutoffs": [t.date().isoformat() for t in plan.val],
            "rows": len(fit.train),
            "val_rows": len(fit.val),
        },
        "best_iteration": model.best_iteration_,
    }


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
    progress(f"training XGBoost on {len(parts['train'])} snapshots")
    model = new_model(cfg)
    model.fit(parts["train"], label_index(parts["train"]), parts["val"], label_index(parts["val"]))
    fit_rows = pd.concat([parts["train"], parts["val"]], ignore_index=True)
    rule = RuleRatingModel(cfg.labels).fit(fit_rows, label_index(fit_rows))
    persistence = PersistenceBaseline().fit(fit_rows, label_index(fit_rows))
    fit = FitResult(
        plan, snap, parts["train"], parts["val"], parts["test"], model, rule, persistence
    )
    fit.metrics = out_of_time_metrics(fit)
    return fit


def gate(
    metrics: dict[str, Any], cfg: TrainConfig, champion: dict[str, Any] | None = None
) -> tuple[bool, list[str]]:
    """Promotion gate: (passes, reasons) for a challenger's out-of-time metrics."""
    mod = metrics["model"]
    per = metrics["baselines"]["persistence"]
    rule = metrics["baselines"]["rule"]
    g = cfg.gate
    checks = [
        (
            mod["macro_f1"] >= per["macro_f1"] + g.min_gain_over_persistence,
            f"macro-F1 {mod['macro_f1']:.3f} vs persistence {per['macro_f1']:.3f} "
            f"+ {g.min_gain_over_persistence}",
        ),
        (
            mod["macro_f1"] >= rule["macro_f1"],
            f"macro-F1 {mod['macro_f1']:.3f} vs rule {rule['macro_f1']:.3f}",
        ),
    ]
    if mod.get("auc_bad") is not None:
        checks.append(
            (
                mod["auc_bad"] >= g.min_auc_bad,
                f"AUC(bad) {mod['auc_bad']:.3f} vs floor {g.min_auc_bad}",
            )
        )
    if mod.get("ece") is not None:
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
