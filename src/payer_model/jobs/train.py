"""Jobs: train (with baselines, MLflow tracking and promotion) and batch scoring."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from payer_model.config import TrainConfig
from payer_model.data.schema import UNRATED
from payer_model.features import compute
from payer_model.features.labels import LABEL_INDEX, CutoffPlan, data_range, plan_cutoffs
from payer_model.modelling.evaluation import backtest, bootstrap_ci, model_card, reliability_figure
from payer_model.modelling.explain import INSUFFICIENT_HISTORY, reason_codes
from payer_model.modelling.metrics import classification_metrics
from payer_model.modelling.model import (
    PersistenceBaseline,
    RuleRatingModel,
    XGBRatingModel,
    rating_frame,
)
from payer_model.modelling.snapshots import build_snapshots, usable

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def data_fingerprint(tables: dict[str, pd.DataFrame | None]) -> str:
    """Content hash of the validated input tables (order-independent, PII excluded)."""
    h = hashlib.sha256()
    for name in ("customers", "invoices", "payments", "reminders"):
        df = tables.get(name)
        if df is None or len(df) == 0:
            h.update(f"{name}:empty".encode())
            continue
        df = df.drop(columns=[c for c in ("name", "email") if c in df.columns])
        df = df.reindex(sorted(df.columns), axis=1)
        row_hash = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy()
        h.update(name.encode())
        h.update(np.sort(row_hash).tobytes())
    return h.hexdigest()[:16]


def _y(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].map(LABEL_INDEX).to_numpy(dtype=int)


def _evaluate(model, frame: pd.DataFrame) -> dict[str, Any]:
    pred = np.asarray([LABEL_INDEX[r] for r in model.predict_rating(frame)], dtype=int)
    return classification_metrics(_y(frame), model.predict_proba(frame), pred)


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


def fit_and_evaluate(
    tables: dict[str, pd.DataFrame | None], cfg: TrainConfig, progress: Progress = _noop
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
    rows = usable(snap)
    parts = {
        name: rows[rows["as_of"].isin(pd.DatetimeIndex(cuts))].reset_index(drop=True)
        for name, cuts in (("train", plan.train), ("val", plan.val), ("test", plan.test))
    }
    for name, part in parts.items():
        if len(part) == 0:
            raise ValueError(f"no labelled, rated snapshots in the {name} window")
    progress(f"training XGBoost on {len(parts['train'])} snapshots")
    m = cfg.model
    model = XGBRatingModel(
        m.params, m.num_boost_round, m.early_stopping_rounds, m.class_weights, m.seed
    )
    model.fit(parts["train"], _y(parts["train"]), parts["val"], _y(parts["val"]))
    fit_rows = pd.concat([parts["train"], parts["val"]], ignore_index=True)
    rule = RuleRatingModel(cfg.labels).fit(fit_rows, _y(fit_rows))
    persistence = PersistenceBaseline().fit(fit_rows, _y(fit_rows))
    test = parts["test"]
    y_test = _y(test)
    pred_test = np.asarray([LABEL_INDEX[r] for r in model.predict_rating(test)], dtype=int)
    metrics = {
        "model": _evaluate(model, test),
        "backtest": backtest(test, model.predict_rating(test)),
        "bootstrap": bootstrap_ci(
            y_test,
            model.predict_proba(test),
            pred_test,
            test["customer_id"].to_numpy(),
            n_boot=100,
        ),
        "calibration": [
            c.to_dict() | {"cv_log_loss": getattr(c, "cv_log_loss_", None)}
            for c in model.calibrators_
        ],
        "thresholds": list(model.thresholds_),
        "baselines": {"rule": _evaluate(rule, test), "persistence": _evaluate(persistence, test)},
        "test_window": {
            "cutoffs": [t.date().isoformat() for t in plan.test],
            "rows": len(test),
            "unrated_excluded": int((~snap["rated"] & snap["as_of"].isin(plan.test)).sum()),
        },
        "train_window": {
            "cutoffs": [t.date().isoformat() for t in plan.train],
            "val_cutoffs": [t.date().isoformat() for t in plan.val],
            "rows": len(parts["train"]),
            "val_rows": len(parts["val"]),
        },
        "best_iteration": model.best_iteration_,
    }
    return FitResult(
        plan, snap, parts["train"], parts["val"], test, model, rule, persistence, metrics
    )


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


def _flat_metrics(prefix: str, m: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in m.items():
        if isinstance(v, dict):
            out |= _flat_metrics(f"{prefix}{k}_", v)
        elif isinstance(v, int | float) and not isinstance(v, bool) and v is not None:
            out[f"{prefix}{k}"] = float(v)
    return out


def _confusion_figure(metrics: dict[str, Any]):
    from payer_model.modelling.plots import confusion

    return confusion(metrics)


def _importance_figure(model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gains: dict[str, float] = {}
    for booster in model.boosters_:
        for k, v in booster.get_score(importance_type="total_gain").items():
            gains[k] = gains.get(k, 0.0) + v
    top = sorted(gains.items(), key=lambda kv: kv[1])[-20:]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh([k for k, _ in top], [v for _, v in top], color="#4C72B0")
    ax.set_xlabel("total gain (both boosters)")
    ax.set_title("feature importance")
    fig.tight_layout()
    return fig


def _example(frame: pd.DataFrame) -> pd.DataFrame:
    ex = frame[[c for c in frame.columns if c in _model_input_columns()]].head(3).copy()
    ex["customer_id"] = [f"example-{i}" for i in range(len(ex))]
    return ex


def _model_input_columns() -> list[str]:
    from payer_model.features import FEATURE_COLUMNS

    return list(FEATURE_COLUMNS)


def train(
    tables: dict[str, pd.DataFrame | None],
    cfg: TrainConfig,
    *,
    tracking_uri: str,
    config_path: str | Path | None = None,
    progress: Progress = _noop,
) -> dict[str, Any]:
    """Train, evaluate, log to MLflow, register and promote through the gate.

    Returns:
        The ``metrics.json`` content: ``model``, ``baselines.rule``,
        ``baselines.persistence``, ``run_id``, ``model_version``, ``promoted``,
        ``champion_kind``, ``test_window`` and the gate decision.
    """
    import mlflow

    from payer_model.adapters import registry

    fit = fit_and_evaluate(tables, cfg, progress)
    metrics = fit.metrics
    registry.configure(tracking_uri)
    exp_id = registry.ensure_experiment(cfg.experiment, tracking_uri)
    name = cfg.registered_model

    champion_metrics = None
    current = registry.alias_version(name, registry.CHAMPION)
    if current is not None:
        try:
            champ_model, _ = registry.download_bundle(name, registry.CHAMPION)
            champion_metrics = _evaluate(champ_model, fit.test)
            metrics["champion_before"] = {
                "version": str(current.version),
                "macro_f1": champion_metrics["macro_f1"],
            }
        except registry.RegistryError as exc:
            log.warning("current champion could not be evaluated: %s", exc)
    passed, reasons = gate(metrics, cfg, champion_metrics)
    fingerprint = data_fingerprint(tables)
    progress("logging to MLflow")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.set_tags(
            {"data_fingerprint": fingerprint, "job": "train", "gate": "pass" if passed else "fail"}
        )
        mlflow.log_params(
            {
                **{f"model.{k}": v for k, v in cfg.model.params.items()},
                "model.num_boost_round": cfg.model.num_boost_round,
                "model.best_iteration": fit.model.best_iteration_,
                "model.class_weights": cfg.model.class_weights,
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
        )
        mlflow.log_metrics(_flat_metrics("model_", metrics["model"]))
        for b in ("rule", "persistence"):
            mlflow.log_metrics(_flat_metrics(f"{b}_", metrics["baselines"][b]))
        if config_path and Path(config_path).exists():
            mlflow.log_artifact(str(config_path), "config")
        mlflow.log_text(
            yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/resolved.yaml"
        )
        registry.log_json(fit.model.encoder_.columns, "features.json")
        registry.log_json(fit.plan.to_dict(), "split.json")
        registry.log_json({"passed": passed, "checks": reasons}, "gate.json")
        mlflow.log_figure(_confusion_figure(metrics), "plots/confusion_matrix.png")
        y_test = _y(fit.test)
        mlflow.log_figure(
            reliability_figure(
                y_test,
                {
                    "XGBoost": fit.model.predict_proba(fit.test),
                    "rule": fit.rule.predict_proba(fit.test),
                    "persistence": fit.persistence.predict_proba(fit.test),
                },
            ),
            "plots/reliability.png",
        )
        mlflow.log_figure(_importance_figure(fit.model), "plots/feature_importance.png")
        registry.log_json(metrics["backtest"], "backtest.json")
        card = model_card(
            metrics,
            version=f"(run {run.info.run_id})",
            name=name,
            features=fit.model.encoder_.columns,
            labels=cfg.labels.model_dump(),
            split=fit.plan.to_dict(),
            gate={"passed": passed, "checks": reasons},
        )
        mlflow.log_text(card, "model_card.md")
        registry.log_json(
            {k: v for k, v in metrics.items() if k not in ("backtest",)}, "metrics.json"
        )
        example = _example(fit.test)
        out_example = rating_frame(fit.model, example)[
            ["rating", "p_good", "p_average", "p_bad", "late_probability", "score"]
        ]
        xgb_info = registry.log_model(
            fit.model,
            "model",
            example,
            out_example,
            texts={"model_card.md": card, "backtest.json": json.dumps(metrics["backtest"])},
        )
        rule_info = registry.log_model(
            fit.rule, "rule_model", example, rating_frame(fit.rule, example)[out_example.columns]
        )
        run_id = run.info.run_id

    tags = {
        "data_fingerprint": fingerprint,
        "run_id": run_id,
        "macro_f1": f"{metrics['model']['macro_f1']:.4f}",
        "gate": "; ".join(reasons),
    }
    mv = registry.register(xgb_info.model_uri, name, tags | {"kind": "xgboost"})
    promoted = False
    champion_kind = None
    if passed:
        registry.set_alias(name, registry.CHAMPION, mv.version)
        promoted, champion_kind = True, "xgboost"
        message = f"model version {mv.version} promoted to champion"
    else:
        registry.set_alias(name, registry.CHALLENGER, mv.version)
        message = f"model version {mv.version} did not pass the gate; kept as challenger"
        if current is None:
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
    metrics.update(
        {
            "run_id": run_id,
            "experiment_id": exp_id,
            "model_version": str(mv.version),
            "promoted": promoted,
            "champion_kind": champion_kind,
            "gate": {"passed": passed, "checks": reasons},
            "message": message,
            "data_fingerprint": fingerprint,
            "tracking_uri": tracking_uri,
        }
    )
    log.info(message)
    return metrics


def score(
    tables: dict[str, pd.DataFrame | None],
    as_of: date | str,
    model,
    cfg: TrainConfig,
    *,
    model_version: str = "local",
    **engine: Any,
) -> pd.DataFrame:
    """Rate every customer as of a date; customers without history are ``unrated``.

    ``engine`` is passed to :func:`payer_model.features.compute` (``engine="spark",
    spark=...`` or a DuckDB ``con``; see :func:`payer_model.features.engine_options`).
    """
    feats = compute(tables, as_of, cfg, **engine)
    out = rating_frame(model, feats, min_paid_invoices=cfg.features.min_paid_invoices)
    reasons = reason_codes(
        model, feats, out["rating"], min_paid_invoices=cfg.features.min_paid_invoices
    )
    out["reasons"] = [json.dumps(r) for r in reasons]
    out["reason_codes"] = [",".join(x["code"] for x in r) for r in reasons]
    customers = tables.get("customers")
    if customers is not None and len(customers):
        missing = sorted(set(customers["customer_id"].astype(str)) - set(out["customer_id"]))
        if missing:
            no_history = json.dumps(
                [
                    {
                        "code": INSUFFICIENT_HISTORY,
                        "feature": "inv_n",
                        "value": 0.0,
                        "reference": None,
                        "contribution": None,
                        "text": "no invoice before the as-of date",
                    }
                ]
            )
            extra = pd.DataFrame(
                {
                    "customer_id": missing,
                    "rating": UNRATED,
                    "as_of": pd.Timestamp(as_of),
                    "reasons": no_history,
                    "reason_codes": INSUFFICIENT_HISTORY,
                }
            )
            out = pd.concat([out, extra], ignore_index=True)
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.normalize().astype("datetime64[us]")
    out["model_version"] = str(model_version)
    return out.sort_values("customer_id").reset_index(drop=True)


def rated_portfolio(
    tables: dict[str, pd.DataFrame | None],
    as_of: date | str,
    model,
    cfg: TrainConfig,
    *,
    model_version: str = "local",
) -> pd.DataFrame:
    """Ratings merged with the as-of features: what the segment rules and reports read."""
    ratings = score(tables, as_of, model, cfg, model_version=model_version)
    feats = compute(tables, as_of, cfg)
    extra = [c for c in feats.columns if c not in ratings.columns or c == "customer_id"]
    return ratings.merge(feats[extra], on="customer_id", how="left")
