"""Training job: fit, evaluate, log to MLflow, register and promote through the gate.

The computation lives in :mod:`payer_model.modelling.fit` and the figures in
:mod:`payer_model.modelling.plots`; every MLflow call goes through
:mod:`payer_model.adapters.tracking` (the run) and :mod:`payer_model.adapters.registry`
(versions and aliases). Batch scoring is :mod:`payer_model.jobs.score`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from payer_model.config import TrainConfig
from payer_model.data.schema import PII_COLUMNS
from payer_model.modelling import plots
from payer_model.modelling.evaluation import model_card
from payer_model.modelling.fit import (
    FitResult,
    Progress,
    evaluate,
    fit_and_evaluate,
    gate,
    label_index,
    no_progress,
)
from payer_model.modelling.model import rating_frame

__all__ = ["FitResult", "data_fingerprint", "fit_and_evaluate", "gate", "train"]

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ["rating", "p_good", "p_average", "p_bad", "p_not_good", "score"]


def data_fingerprint(tables: dict[str, pd.DataFrame | None]) -> str:
    """Content hash of the validated input tables (order-independent, PII excluded)."""
    h = hashlib.sha256()
    for name in ("customers", "invoices", "payments", "reminders"):
        df = tables.get(name)
        if df is None or len(df) == 0:
            h.update(f"{name}:empty".encode())
            continue
        df = df.drop(columns=[c for c in PII_COLUMNS if c in df.columns])
        df = df.reindex(sorted(df.columns), axis=1)
        row_hash = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy()
        h.update(name.encode())
        h.update(np.sort(row_hash).tobytes())
    return h.hexdigest()[:16]


def model_example(frame: pd.DataFrame) -> pd.DataFrame:
    """Three feature rows with made-up ids: the logged model's input example."""
    from payer_model.features import FEATURE_COLUMNS

    ex = frame[[c for c in frame.columns if c in FEATURE_COLUMNS]].head(3).copy()
    ex["customer_id"] = [f"example-{i}" for i in range(len(ex))]
    return ex


def run_params(fit: FitResult, cfg: TrainConfig) -> dict[str, Any]:
    """MLflow params of a training run: model, labels, features, split and row counts."""
    metrics = fit.metrics
    return {
        **{f"model.{k}": v for k, v in cfg.model.params.items()},
        "model.num_boost_round": cfg.model.num_boost_round,
        "model.best_iteration": fit.model.best_iteration_,
        "model.class_weights": cfg.model.class_weights,
        "model.kind": fit.model.kind,
        "model.candidate": (metrics.get("selection") or {}).get("chosen", fit.model.kind),
        "model.blend_weight": (metrics.get("selection") or {}).get("blend_weight"),
        **{f"labels.{k}": v for k, v in cfg.labels.model_dump().items()},
        "features.min_paid_invoices": cfg.features.min_paid_invoices,
        "features.window_days": cfg.features.window_days,
        "split.train": ",".join(metrics["train_window"]["cutoffs"]),
        "split.val": ",".join(metrics["train_window"]["val_cutoffs"]),
        "split.test": ",".join(metrics["test_window"]["cutoffs"]),
        "rows.train": len(fit.train),
        "rows.val": len(fit.val),
        "rows.test": len(fit.test),
    }


def _champion_before(fit: FitResult, name: str) -> tuple[Any, dict[str, Any] | None]:
    """The current champion version and its metrics on this run's test window."""
    from payer_model.adapters import registry

    current = registry.alias_version(name, registry.CHAMPION)
    if current is None:
        return None, None
    try:
        champ_model, _ = registry.download_bundle(name, registry.CHAMPION)
    except registry.RegistryError as exc:
        log.warning("current champion could not be evaluated: %s", exc)
        return current, None
    champion = evaluate(champ_model, fit.test)
    fit.metrics["champion_before"] = {
        "version": str(current.version),
        "macro_f1": champion["macro_f1"],
    }
    return current, champion


def _log_plots(fit: FitResult) -> None:
    from payer_model.adapters import tracking

    tracking.log_figure(plots.confusion(fit.metrics), "plots/confusion_matrix.png")
    probas = {
        _model_label(fit): fit.model.predict_proba(fit.test),
        "rule": fit.rule.predict_proba(fit.test),
        "persistence": fit.persistence.predict_proba(fit.test),
    }
    tracking.log_figure(plots.reliability(label_index(fit.test), probas), "plots/reliability.png")
    booster_model = getattr(fit.model, "base", fit.model)
    if hasattr(booster_model, "boosters_"):
        tracking.log_figure(
            plots.feature_importance(booster_model), "plots/feature_importance.png"
        )


def _model_label(fit: FitResult) -> str:
    selection = fit.metrics.get("selection") or {}
    return selection.get("chosen", fit.model.kind)


def _log_selection(fit: FitResult) -> None:
    """Each candidate's validation metrics (``val_<candidate>_<metric>``) and the choice."""
    from payer_model.adapters import tracking

    selection = fit.metrics.get("selection")
    if not selection:
        return
    for name, m in selection["validation"].items():
        tracking.log_metrics(tracking.flat_metrics(f"val_{name}_", m))
    tracking.set_tags({"candidate": selection["chosen"]})
    tracking.log_json(selection, "selection.json")


def _log_run(
    fit: FitResult,
    cfg: TrainConfig,
    run_id: str,
    gate_record: dict[str, Any],
    config_path: str | Path | None,
) -> tuple[Any, Any]:
    """Log params, metrics, config, plots, card and both models to the active run.

    Returns:
        The model infos of the chosen candidate and of the rule model.
    """
    from payer_model.adapters import registry, tracking

    metrics = fit.metrics
    tracking.log_params(run_params(fit, cfg))
    tracking.log_metrics(tracking.flat_metrics("model_", metrics["model"]))
    for b in ("rule", "persistence"):
        tracking.log_metrics(tracking.flat_metrics(f"{b}_", metrics["baselines"][b]))
    if config_path and Path(config_path).exists():
        tracking.log_artifact(config_path, "config")
    tracking.log_text(
        yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/resolved.yaml"
    )
    tracking.log_json(fit.model.encoder_.columns, "features.json")
    tracking.log_json(fit.plan.to_dict(), "split.json")
    tracking.log_json(gate_record, "gate.json")
    _log_selection(fit)
    _log_plots(fit)
    tracking.log_json(metrics["backtest"], "backtest.json")
    card = model_card(
        metrics,
        version=f"(run {run_id})",
        name=cfg.registered_model,
        features=fit.model.encoder_.columns,
        labels=cfg.labels.model_dump(),
        split=fit.plan.to_dict(),
        gate=gate_record,
    )
    tracking.log_text(card, "model_card.md")
    tracking.log_json({k: v for k, v in metrics.items() if k != "backtest"}, "metrics.json")
    example = model_example(fit.test)
    out_example = rating_frame(fit.model, example)[OUTPUT_COLUMNS]
    xgb_info = registry.log_model(
        fit.model,
        "model",
        example,
        out_example,
        texts={"model_card.md": card, "backtest.json": json.dumps(metrics["backtest"])},
    )
    rule_info = registry.log_model(
        fit.rule, "rule_model", example, rating_frame(fit.rule, example)[OUTPUT_COLUMNS]
    )
    return xgb_info, rule_info


def _register_and_promote(
    metrics: dict[str, Any],
    name: str,
    infos: tuple[Any, Any],
    tags: dict[str, str],
    *,
    passed: bool,
    had_champion: bool,
) -> dict[str, Any]:
    """Register the model; champion if it passed, else challenger (rule as first champion)."""
    from payer_model.adapters import registry

    xgb_info, rule_info = infos
    kind = metrics.get("model_kind", "xgboost")
    mv = registry.register(xgb_info.model_uri, name, tags | {"kind": kind})
    if passed:
        registry.set_alias(name, registry.CHAMPION, mv.version)
        return {
            "model_version": str(mv.version),
            "promoted": True,
            "champion_kind": kind,
            "message": f"model version {mv.version} promoted to champion",
        }
    registry.set_alias(name, registry.CHALLENGER, mv.version)
    message = f"model version {mv.version} did not pass the gate; kept as challenger"
    champion_kind = None
    if not had_champion:
        rule_tags = tags | {
            "kind": "rule",
            "macro_f1": f"{metrics['baselines']['rule']['macro_f1']:.4f}",
        }
        rv = registry.register(rule_info.model_uri, name, rule_tags)
        registry.set_alias(name, registry.CHAMPION, rv.version)
        champion_kind = "rule"
        message += (
            f"; no champion existed, so the rule rating (version {rv.version}) is the champion"
        )
    return {
        "model_version": str(mv.version),
        "promoted": False,
        "champion_kind": champion_kind,
        "message": message,
    }


def train(
    tables: dict[str, pd.DataFrame | None],
    cfg: TrainConfig,
    *,
    tracking_uri: str,
    config_path: str | Path | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Train, evaluate, log to MLflow, register and promote through the gate.

    Returns:
        The ``metrics.json`` content: ``model``, ``baselines.rule``,
        ``baselines.persistence``, ``run_id``, ``model_version``, ``promoted``,
        ``champion_kind``, ``test_window`` and the gate decision.
    """
    from payer_model.adapters import registry, tracking

    fit = fit_and_evaluate(tables, cfg, progress)
    metrics = fit.metrics
    registry.configure(tracking_uri)
    exp_id = registry.ensure_experiment(cfg.experiment, tracking_uri)
    current, champion_metrics = _champion_before(fit, cfg.registered_model)
    passed, reasons = gate(metrics, cfg, champion_metrics)
    gate_record = {"passed": passed, "checks": reasons}
    fingerprint = data_fingerprint(tables)
    progress("logging to MLflow")
    with tracking.start_run(exp_id) as run_id:
        tracking.set_tags(
            {"data_fingerprint": fingerprint, "job": "train", "gate": "pass" if passed else "fail"}
        )
        infos = _log_run(fit, cfg, run_id, gate_record, config_path)

    tags = {
        "data_fingerprint": fingerprint,
        "run_id": run_id,
        "macro_f1": f"{metrics['model']['macro_f1']:.4f}",
        "gate": "; ".join(reasons),
    }
    outcome = _register_and_promote(
        metrics, cfg.registered_model, infos, tags, passed=passed, had_champion=current is not None
    )
    metrics.update(
        {
            "run_id": run_id,
            "experiment_id": exp_id,
            "model_version": outcome["model_version"],
            "promoted": outcome["promoted"],
            "champion_kind": outcome["champion_kind"],
            "gate": gate_record,
            "message": outcome["message"],
            "data_fingerprint": fingerprint,
            "tracking_uri": tracking_uri,
        }
    )
    chosen = (metrics.get("selection") or {}).get("chosen")
    if chosen:
        metrics["message"] = f"candidate {chosen} won on validation; {metrics['message']}"
    log.info(metrics["message"])
    return metrics
