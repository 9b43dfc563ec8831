"""Optuna tuning of the XGBoost rating model, tracked in MLflow (DESIGN §5).

One parent MLflow run per ``tune`` call and one nested run per trial (the Optuna MLflow
callback is deprecated). The study lives in Optuna RDB storage next to the MLflow store, so a
second call with the same study name resumes it. Validation is by time only: every trial fits
on the training cutoffs and is scored on the validation cutoff; the test window is looked at
once, for the final best config, for information.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from payer_model.config import TrainConfig
from payer_model.modelling import plots
from payer_model.modelling.fit import (
    FitResult,
    fit_and_evaluate,
    label_index,
    new_model,
    rating_index,
)
from payer_model.modelling.metrics import classification_metrics

log = logging.getLogger(__name__)

DEFAULT_STORAGE = "sqlite:///mlflow/optuna.db"
DEFAULT_OUT_CONFIG = Path("training/configs/tuned.yaml")


def default_storage(tracking_uri: str) -> str:
    """Optuna storage next to a sqlite MLflow store (``<db folder>/optuna.db``)."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return f"sqlite:///{db.parent / 'optuna.db'}"
    return DEFAULT_STORAGE


def _ensure_sqlite_folder(storage: str) -> None:
    if storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def suggest_params(trial: Any) -> dict[str, Any]:
    """XGBoost parameters for one trial; ranges fit portfolios of ~100 to ~100k customers."""
    return {
        # Shallow trees: lateness features are few and strong; deeper trees memorise customers.
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        # Log scale; below 0.02 the 600-round budget ends before early stopping does.
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        # Hessian mass per leaf: large values keep small portfolios from fitting noise.
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 50.0, log=True),
        # Row subsampling below 0.5 starves the rare "bad" class in each tree.
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        # About 30 columns: keep at least 40% so the strong lateness features stay reachable.
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        # L2 on leaf weights, the main shrinkage knob; spans "off" to "strong" on a log scale.
        "reg_lambda": trial.suggest_float("reg_lambda", 0.01, 50.0, log=True),
        # L1 on leaf weights: sparse leaves help when most features carry little signal.
        "reg_alpha": trial.suggest_float("reg_alpha", 0.001, 10.0, log=True),
        # Minimum loss gain per split; 0 (XGBoost's default) must stay reachable.
        "gamma": trial.suggest_float("gamma", 0.0, 2.0),
    }


def _customer_halves(frame: pd.DataFrame, seed: int) -> list[np.ndarray]:
    """Two boolean masks splitting the rows by customer (a customer never sits in both)."""
    ids = np.sort(frame["customer_id"].astype(str).unique())
    rng = np.random.default_rng(seed)
    first = set(rng.permutation(ids)[: len(ids) // 2].tolist())
    mask = frame["customer_id"].astype(str).isin(first).to_numpy()
    return [mask, ~mask]


def _log_plots(study: Any) -> list[str]:
    """Log optimisation history and (with 2+ complete trials) importances; return paths."""
    import optuna

    from payer_model.adapters import tracking

    tracking.log_figure(plots.optimization_history(study), "plots/optimization_history.png")
    logged = ["plots/optimization_history.png"]
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        log.info("param importances skipped: %d complete trial(s)", len(complete))
        return logged
    try:
        fig = plots.param_importances(study)
    except (RuntimeError, ValueError) as exc:  # e.g. every trial scored the same
        log.warning("param importances skipped: %s", exc)
        return logged
    tracking.log_figure(fig, "plots/param_importances.png")
    logged.append("plots/param_importances.png")
    return logged


def write_config(cfg: TrainConfig, params: dict[str, Any], path: str | Path, note: str) -> Path:
    """Write ``cfg`` with ``model.params`` replaced as a YAML that ``load_config`` reads."""
    data = cfg.model_dump(mode="json")
    data["model"]["params"] = dict(params)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {note}\n" + yaml.safe_dump(data, sort_keys=False))
    return path


def _open_study(
    storage: str, study_name: str, cfg: TrainConfig, fingerprint: str
) -> tuple[Any, int]:
    """Create or resume the study; returns it and the number of trials it held before."""
    import optuna

    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=cfg.model.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    )
    done_before = len(study.trials)
    # Offset the seed by the trials already stored so a resumed study draws new points.
    study.sampler = optuna.samplers.TPESampler(seed=cfg.model.seed + done_before)
    known = study.user_attrs.get("data_fingerprint")
    if known is None:
        study.set_user_attr("data_fingerprint", fingerprint)
    elif known != fingerprint:
        log.warning(
            "study %s was started on data %s, now %s: scores are not comparable",
            study_name,
            known,
            fingerprint,
        )
    if done_before == 0:
        # The current config is the baseline every tuned config has to beat.
        # Keys the config leaves out get XGBoost's defaults (reg_alpha 0 is the range floor).
        first = {"reg_alpha": 0.001, "gamma": 0.0, **cfg.model.params}
        study.enqueue_trial(first, skip_if_exists=True)
    return study, done_before


def _objective(
    base: FitResult, cfg: TrainConfig, exp_id: str, study_name: str
) -> Callable[[Any], float]:
    """The Optuna objective: cross-fitted validation log loss, one nested MLflow run each."""
    import optuna

    from payer_model.adapters import tracking

    train, val = base.train, base.val
    y_train, y_val = label_index(train), label_index(val)
    # The model calibrates (and picks thresholds) on its validation slice, so scoring on that
    # same slice would flatter it. Cross-fit by validation customer: calibrate on one half,
    # score the other, both ways; each validation row is scored exactly once.
    halves = _customer_halves(val, cfg.model.seed)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial)
        proba = np.zeros((len(val), 3))
        pred = np.zeros(len(val), dtype=int)
        with tracking.start_run(exp_id, run_name=f"trial-{trial.number}", nested=True) as child:
            trial.set_user_attr("mlflow_run_id", child)
            tracking.set_tags({"job": "tune-trial", "trial": trial.number, "study": study_name})
            tracking.log_params(params)
            for step, (cal, score) in enumerate((halves, halves[::-1])):
                model = new_model(cfg, params).fit(train, y_train, val[cal], y_val[cal])
                proba[score] = model.predict_proba(val[score])
                pred[score] = rating_index(model, val[score])
                # Intermediate value: log loss on the first scored half, after the first fit.
                part = classification_metrics(y_val[score], proba[score])["log_loss"]
                tracking.log_metric("val_log_loss_half", part, step=step)
                if step == 0:
                    trial.report(part, step)
                    if trial.should_prune():
                        tracking.set_tag("state", "pruned")
                        break
            else:
                m = classification_metrics(y_val, proba, pred)
                trial.set_user_attr("val_macro_f1", m["macro_f1"])
                tracking.log_metrics(
                    {"val_log_loss": m["log_loss"], "val_macro_f1": m["macro_f1"]}
                )
                tracking.set_tag("state", "complete")
                return float(m["log_loss"])
        raise optuna.TrialPruned()

    return objective


def _trial_counts(study: Any, done_before: int) -> dict[str, int]:
    import optuna

    states = [t.state for t in study.trials]
    return {
        "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "total": len(states),
        "this_call": len(states) - done_before,
    }


def _test_info(base: FitResult, cfg: TrainConfig, best_params: dict[str, Any]) -> dict:
    """Out-of-time metrics of the tuned and the input config (the objective never saw them)."""
    train, val, test = base.train, base.val, base.test
    final = new_model(cfg, best_params).fit(train, label_index(train), val, label_index(val))
    # Ratings through the model's thresholds, as `train` reports them (not argmax).
    tuned_test = classification_metrics(
        label_index(test), final.predict_proba(test), rating_index(final, test)
    )
    return {
        "tuned": {k: tuned_test[k] for k in ("macro_f1", "log_loss", "ece")},
        "input_config": {k: base.metrics["model"][k] for k in ("macro_f1", "log_loss", "ece")},
    }


def tune(
    tables: dict[str, pd.DataFrame | None],
    cfg: TrainConfig,
    *,
    n_trials: int,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str = "payer-rating",
    tracking_uri: str,
    out_config: str | Path = DEFAULT_OUT_CONFIG,
    config_path: str | Path | None = None,
) -> dict[str, Any]:
    """Tune the XGBoost parameters with Optuna on the time-based validation slice.

    Args:
        tables: Validated contract tables.
        cfg: Training config; its ``model.params`` are tried first in a new study.
        n_trials: Trials to run in this call (added to a resumed study).
        timeout: Stop starting new trials after this many seconds.
        storage: Optuna RDB URL; default ``optuna.db`` next to a sqlite MLflow store.
        study_name: Study to create or resume.
        tracking_uri: MLflow tracking store.
        out_config: Where the best config YAML is written.
        config_path: The input config file, logged as an artifact when given.

    Returns:
        ``best_params``, ``best_value`` (validation log loss), ``best_trial``, ``n_trials``
        (complete / pruned / total in the study, and run in this call), ``parent_run_id``,
        ``experiment_id``, ``study_name``, ``storage``, ``out_config`` and ``test`` (out-of-time
        metrics of the tuned and the input config, for information only).
    """
    import optuna

    from payer_model.adapters import registry, tracking
    from payer_model.jobs.train import data_fingerprint

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage or default_storage(tracking_uri)
    _ensure_sqlite_folder(storage)

    # Snapshots and the time split are built once; every trial reuses the same frames.
    base = fit_and_evaluate(tables, cfg)
    fingerprint = data_fingerprint(tables)
    study, done_before = _open_study(storage, study_name, cfg, fingerprint)

    registry.configure(tracking_uri)
    exp_id = registry.ensure_experiment(cfg.experiment, tracking_uri)
    objective = _objective(base, cfg, exp_id, study_name)

    with tracking.start_run(exp_id, run_name=f"tune-{study_name}") as parent_id:
        tracking.set_tags(
            {
                "job": "tune",
                "data_fingerprint": fingerprint,
                "study": study_name,
                "optuna_storage": storage,
            }
        )
        tracking.log_params(
            {"n_trials": n_trials, "timeout": timeout, "rows.train": len(base.train)}
            | {"rows.val": len(base.val), "trials_before": done_before}
        )
        study.optimize(objective, n_trials=n_trials, timeout=timeout, gc_after_trial=True)

        counts = _trial_counts(study, done_before)
        best = study.best_trial
        best_params = {**cfg.model.params, **best.params}
        test_info = _test_info(base, cfg, best.params)
        tracking.log_metrics(
            {"best_val_log_loss": best.value, **{f"trials_{k}": v for k, v in counts.items()}}
            | {f"test_{who}_{k}": v for who, m in test_info.items() for k, v in m.items()}
        )
        tracking.log_dict(best_params, "best_params.json")
        if config_path and Path(config_path).exists():
            tracking.log_artifact(config_path, "config")
        logged_plots = _log_plots(study)
        out = write_config(
            cfg,
            best_params,
            out_config,
            f"written by `payer-model tune`: study {study_name}, trial {best.number}, "
            f"validation log loss {best.value:.4f}, MLflow run {parent_id}",
        )
        tracking.log_artifact(out, "config")

    log.info("best trial %d: validation log loss %.4f", best.number, best.value)
    return {
        "best_params": best_params,
        "best_value": float(best.value),
        "best_trial": best.number,
        "best_val_macro_f1": best.user_attrs.get("val_macro_f1"),
        "n_trials": counts,
        "parent_run_id": parent_id,
        "experiment_id": exp_id,
        "study_name": study_name,
        "storage": storage,
        "out_config": str(out),
        "plots": logged_plots,
        "test": test_info,
        "data_fingerprint": fingerprint,
    }
