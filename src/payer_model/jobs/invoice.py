"""Invoice-level jobs: train and register ``invoice_late``, predict open invoices, forecast cash.

The computation is in :mod:`payer_model.modelling.invoice_fit` (fit, baselines, gate),
:mod:`payer_model.modelling.invoice` (the model) and :mod:`payer_model.modelling.forecast`;
MLflow goes through the adapters, with the invoice model's own registered name
(``cfg.invoice.registered_model``) and its own champion / challenger aliases.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from payer_model.config import TrainConfig
from payer_model.features.invoice import INVOICE_COLUMNS, compute_invoices
from payer_model.jobs.champion import default_as_of
from payer_model.modelling.forecast import backtest_forecast, forecast_table, wape
from payer_model.modelling.invoice import InvoiceLateModel
from payer_model.modelling.invoice_card import (
    forecast_figure,
    invoice_model_card,
    reliability_figure,
)
from payer_model.modelling.invoice_fit import (
    InvoiceFit,
    customer_mean_date,
    fit_invoice_model,
    invoice_gate,
    late_share_baseline,
)

log = logging.getLogger(__name__)

REPORTS = Path("reports")
PREDICTIONS_OUT = REPORTS / "invoice_predictions.parquet"
OUTPUT_COLUMNS = (
    "invoice_id",
    "customer_id",
    "as_of",
    "due_date",
    "amount",
    "outstanding",
    "p_late",
    "p_late_30",
    "band",
    "expected_pay_date",
    "pay_date_low",
    "pay_date_high",
    "expected_days_late",
    "expected_overdue_amount",
    "model_version",
)


def _metrics_json(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "forecast"} | {
        "forecast": {k: v for k, v in metrics.get("forecast", {}).items() if k != "weekly"}
    }


def _champion_auc(fit: InvoiceFit, name: str) -> tuple[Any, dict[str, Any] | None]:
    from payer_model.adapters import registry
    from payer_model.modelling.invoice_fit import binary_metrics

    current = registry.alias_version(name, registry.CHAMPION)
    if current is None:
        return None, None
    try:
        champ, _ = registry.download_bundle(name, registry.CHAMPION, loader=InvoiceLateModel.load)
    except registry.RegistryError as exc:
        log.warning("current invoice champion could not be evaluated: %s", exc)
        return current, None
    m = fit.test["late"].notna()
    p, _ = champ.predict_late(fit.test.loc[m])
    res = binary_metrics(fit.test.loc[m, "late"].to_numpy(), p)
    return current, {"version": str(current.version), "auc": res["auc"]}


def _log_and_register(
    fit: InvoiceFit, cfg: TrainConfig, tracking_uri: str, passed: bool, card: str
) -> dict[str, Any]:
    from payer_model.adapters import registry, tracking

    ic = cfg.invoice
    exp_id = registry.ensure_experiment(ic.experiment, tracking_uri)
    metrics = fit.metrics
    with tracking.start_run(exp_id, run_name="invoice_late") as run_id:
        tracking.set_tags({"job": "train-invoices", "gate": "pass" if passed else "fail"})
        tracking.log_params({f"invoice.{k}": v for k, v in ic.model_dump().items()})
        for part in ("late", "very_late", "date"):
            tracking.log_metrics(tracking.flat_metrics(f"model_{part}_", metrics["model"][part]))
        tracking.log_metrics(
            tracking.flat_metrics("late_share_", metrics["baselines"]["late_share"]["late"])
        )
        tracking.log_metrics(
            tracking.flat_metrics("customer_mean_", metrics["baselines"]["customer_mean"]["date"])
        )
        tracking.log_metrics(tracking.flat_metrics("forecast_", metrics["forecast"]["mean"]))
        tracking.log_json(_metrics_json(metrics), "metrics.json")
        tracking.log_text(card, "model_card.md")
        m = fit.test["late"].notna()
        y = fit.test.loc[m, "late"].to_numpy()
        base = late_share_baseline(fit.test.loc[m], ic.late_tolerance_days, float(y.mean()))
        probas = {"model": fit.model.predict_late(fit.test.loc[m])[0], "late share": base}
        tracking.log_figure(reliability_figure(y, probas), "plots/reliability.png")
        weekly = metrics["forecast"]["weekly"]
        first = weekly[weekly["as_of"] == weekly["as_of"].min()]
        tracking.log_figure(forecast_figure(first), "plots/forecast_backtest.png")
        example = fit.test[list(INVOICE_COLUMNS)].head(3).copy()  # inputs only, no targets
        example["invoice_id"] = [f"example-{i}" for i in range(len(example))]
        example["customer_id"] = example["invoice_id"]
        info = registry.log_model(
            fit.model,
            "model",
            example,
            fit.model.predict(example),
            texts={"model_card.md": card},
            python_model=_pyfunc(),
        )
    tags = {
        "run_id": run_id,
        "kind": "invoice_late",
        "auc": f"{metrics['model']['late']['auc']:.4f}",
        "gate": "; ".join(metrics["gate"]["checks"]),
    }
    mv = registry.register(info.model_uri, ic.registered_model, tags)
    alias = registry.CHAMPION if passed else registry.CHALLENGER
    registry.set_alias(ic.registered_model, alias, mv.version)
    return {"run_id": run_id, "model_version": str(mv.version), "alias": alias}


def _pyfunc() -> str:
    """The invoice model's code file: logged as "models from code", no pickle."""
    from payer_model.adapters import pyfunc_invoice_code

    return pyfunc_invoice_code.__file__


def train_invoices(
    tables: dict[str, Any],
    cfg: TrainConfig,
    *,
    tracking_uri: str | None = None,
    reports: Path = REPORTS,
) -> dict[str, Any]:
    """Fit, evaluate against both baselines, backtest the forecast, gate, log and register.

    Without ``tracking_uri`` nothing is logged (the notebook's and tests' path).

    Returns:
        The metrics (``model``, ``baselines``, ``bands``, ``forecast``, ``windows``, ``gate``,
        and, when registered, ``model_version``, ``promoted``, ``run_id``). Also written to
        ``reports/invoice_metrics.json`` with the card in ``reports/invoice_model_card.md``.
    """
    fit = fit_invoice_model(tables, cfg)
    mean_late = float(pd.concat([fit.train, fit.val])["days_late"].mean())
    fc = backtest_forecast(fit.model, fit.test, customer_mean_date(fit.test, mean_late))
    fit.metrics["forecast"] = fc
    champion = None
    if tracking_uri is not None:
        from payer_model.adapters import registry

        registry.configure(tracking_uri)
        _, champion = _champion_auc(fit, cfg.invoice.registered_model)
        fit.metrics["champion_before"] = champion
    passed, checks = invoice_gate(fit.metrics, cfg, champion)
    fit.metrics["gate"] = {"passed": passed, "checks": checks}
    name = cfg.invoice.registered_model
    version = "(not registered)"
    if tracking_uri is not None:
        card = invoice_model_card(fit.metrics, name=name, version="(this run)", cfg=cfg)
        reg = _log_and_register(fit, cfg, tracking_uri, passed, card)
        fit.metrics |= reg | {"promoted": passed}
        version = reg["model_version"]
    card = invoice_model_card(fit.metrics, name=name, version=version, cfg=cfg)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "invoice_metrics.json").write_text(
        json.dumps(_metrics_json(fit.metrics), indent=2, default=str)
    )
    (reports / "invoice_model_card.md").write_text(card)
    fit.metrics["fit"] = fit
    return fit.metrics


def load_invoice_champion(cfg: TrainConfig, tracking_uri: str) -> tuple[InvoiceLateModel, str]:
    """The ``invoice_late`` champion and its version.

    Raises:
        RegistryError: none registered (message says to run ``payer-model train-invoices``).
    """
    from payer_model.adapters import registry

    registry.configure(tracking_uri)
    try:
        model, mv = registry.download_bundle(
            cfg.invoice.registered_model, registry.CHAMPION, loader=InvoiceLateModel.load
        )
    except registry.RegistryError as exc:
        raise registry.RegistryError(
            f"{exc} (invoice model: run `payer-model train-invoices`)"
        ) from None
    return model, str(mv.version)


def predict_frame(
    model: InvoiceLateModel, snap: pd.DataFrame, model_version: str = "local"
) -> pd.DataFrame:
    """Predictions for invoice snapshot rows with amounts and the expected overdue amount.

    ``expected_overdue_amount`` = outstanding x P(late): what the worklist ranks by.
    """
    pred = model.predict(snap)
    pred["amount"] = snap["amount"].to_numpy()
    pred["outstanding"] = snap["outstanding"].to_numpy()
    pred["expected_overdue_amount"] = pred["outstanding"] * pred["p_late"]
    pred["model_version"] = model_version
    return pred[list(OUTPUT_COLUMNS)].reset_index(drop=True)


def predict_invoices(
    tables: dict[str, Any],
    cfg: TrainConfig,
    *,
    as_of: str | None = None,
    tracking_uri: str | None = None,
    model: InvoiceLateModel | None = None,
    out: Path | None = PREDICTIONS_OUT,
) -> pd.DataFrame:
    """Predict every invoice open (or issued) at ``as_of`` [the day after the last event]."""
    version = "local"
    if model is None:
        if tracking_uri is None:
            raise ValueError("predict_invoices needs a model or a tracking_uri")
        model, version = load_invoice_champion(cfg, tracking_uri)
    when = pd.Timestamp(as_of) if as_of else default_as_of(tables)
    pred = predict_frame(model, compute_invoices(tables, when, cfg), version)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        pred.to_parquet(out, index=False)
    return pred


def cash_forecast(
    tables: dict[str, Any],
    cfg: TrainConfig,
    *,
    as_of: str | None = None,
    tracking_uri: str | None = None,
    model: InvoiceLateModel | None = None,
    out_dir: Path = REPORTS,
) -> dict[str, Any]:
    """13-week forecast as of a date: ``forecast.csv`` and ``forecast.png`` in ``out_dir``.

    When the data already holds what came in after ``as_of`` (a past date), the table has
    an ``actual`` column and the WAPE of each forecast is returned.
    """
    if model is None:
        if tracking_uri is None:
            raise ValueError("cash_forecast needs a model or a tracking_uri")
        model, _ = load_invoice_champion(cfg, tracking_uri)
    when = pd.Timestamp(as_of) if as_of else default_as_of(tables)
    snap = compute_invoices(tables, when, cfg)
    end = default_as_of(tables)
    observed = when + pd.Timedelta(weeks=13) <= end
    if observed:
        paid = tables["invoices"][["invoice_id", "paid_date"]].astype({"invoice_id": str})
        snap = snap.merge(paid, on="invoice_id", how="left")
        snap["paid_date"] = pd.to_datetime(snap["paid_date"]).astype("datetime64[us]")
    cm = customer_mean_date(snap, float(snap["wmean_days_late"].mean()))
    table = forecast_table(model, snap, cm, with_actual=observed)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "forecast.csv", index=False)
    import matplotlib.pyplot as plt

    fig = forecast_figure(table, f"13-week cash forecast as of {when.date()}")
    fig.savefig(out_dir / "forecast.png", dpi=100)
    plt.close(fig)
    res: dict[str, Any] = {
        "as_of": str(when.date()),
        "open_invoices": len(snap),
        "table": str(out_dir / "forecast.csv"),
        "plot": str(out_dir / "forecast.png"),
        "total_expected": float(table["model"].sum()),
    }
    if observed:
        res["wape"] = {
            k: wape(table[k].to_numpy(), table["actual"].to_numpy())
            for k in ("model", "due_date", "customer_mean")
        }
    return res
