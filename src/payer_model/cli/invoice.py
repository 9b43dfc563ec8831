"""Invoice-level commands: train-invoices, predict-invoices, forecast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from payer_model.cli.common import (
    ConfigOpt,
    DataDir,
    JsonOpt,
    app,
    command,
    console,
    err,
    load_config,
    load_tables,
    tracking_uri,
)

AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="as-of date [the day after the last event]")
]
PREDICTIONS_OUT = Path("reports/invoice_predictions.parquet")


def _f(x: Any, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def print_invoice_metrics(metrics: dict[str, Any]) -> None:
    """Out-of-time metrics of the invoice model next to its baselines, and the gate."""
    mod, base = metrics["model"], metrics["baselines"]
    t = Table(title=f"invoice model, out of time ({', '.join(metrics['windows']['test'])})")
    for col in ("", "accuracy", "AUC", "Brier", "ECE", "MAE days", "80% coverage", "WAPE"):
        t.add_column(col, justify="left" if not col else "right")
    fc = metrics.get("forecast", {}).get("mean", {})
    late, date = mod["late"], mod["date"]
    t.add_row(
        "model",
        _f(late["accuracy"]),
        _f(late["auc"]),
        _f(late["brier"]),
        _f(late["ece"]),
        _f(date["mae_days"]),
        _f(date.get("coverage"), True),
        _f(fc.get("wape_model")),
    )
    bl = base["late_share"]["late"]
    t.add_row(
        "baselines",
        _f(bl["accuracy"]),
        _f(bl["auc"]),
        _f(bl["brier"]),
        _f(bl["ece"]),
        _f(base["customer_mean"]["date"]["mae_days"]),
        "n/a",
        _f(fc.get("wape_customer_mean")),
    )
    t.add_row("due date", "", "", "", "", "", "", _f(fc.get("wape_due_date")))
    console.print(t)
    for check in metrics["gate"]["checks"]:
        console.print(f"  {check}", highlight=False)


def print_invoice_predictions(pred: Any, top: int = 5) -> None:
    """Band counts and the invoices with the largest expected overdue amount."""
    counts = pred["band"].value_counts().reindex(["Low", "Medium", "High"], fill_value=0)
    console.print(
        f"{len(pred):,} open invoices: " + ", ".join(f"{k} {int(v):,}" for k, v in counts.items()),
        highlight=False,
    )
    t = Table(title="largest expected overdue amounts")
    for col in ("invoice", "customer", "due", "open", "P(late)", "band", "pay by"):
        t.add_column(col)
    for _, r in pred.nlargest(top, "expected_overdue_amount").iterrows():
        t.add_row(
            str(r["invoice_id"]),
            str(r["customer_id"]),
            str(r["due_date"].date()),
            f"{r['outstanding']:,.0f}",
            f"{r['p_late']:.0%}",
            str(r["band"]),
            str(r["expected_pay_date"].date())
            if r["expected_pay_date"] == r["expected_pay_date"]
            else "n/a",
        )
    console.print(t)


@app.command("train-invoices")
@command
def train_invoices(
    data: DataDir, config: ConfigOpt = None, json_out: JsonOpt = None
) -> dict[str, Any]:
    """Train the invoice model (P(late), pay date), gate it against both baselines, register."""
    from payer_model.jobs.invoice import train_invoices as run

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    with err.status("training the invoice model"):
        metrics = run(tables, cfg, tracking_uri=tracking_uri())
    metrics.pop("fit", None)
    print_invoice_metrics(metrics)
    verdict = "promoted to champion" if metrics.get("promoted") else "kept as challenger"
    console.print(
        f"{cfg.invoice.registered_model} version {metrics.get('model_version')} {verdict}; "
        "card: reports/invoice_model_card.md",
        highlight=False,
    )
    return {k: v for k, v in metrics.items() if k != "forecast"} | {
        "forecast": {"mean": metrics["forecast"]["mean"]}
    }


@app.command("predict-invoices")
@command
def predict_invoices(
    data: DataDir,
    as_of: AsOfOpt = None,
    out: Annotated[Path, typer.Option(help="Parquet output")] = PREDICTIONS_OUT,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """P(late), band and expected pay date of every invoice open at --as-of (Parquet)."""
    from payer_model.jobs.invoice import predict_invoices as run

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    pred = run(tables, cfg, as_of=as_of, tracking_uri=tracking_uri(), out=out)
    print_invoice_predictions(pred)
    console.print(f"predictions: {out}", highlight=False)
    return {
        "out": str(out),
        "invoices": len(pred),
        "bands": {k: int(v) for k, v in pred["band"].value_counts().items()},
    }


@app.command()
@command
def forecast(
    data: DataDir,
    as_of: AsOfOpt = None,
    out_dir: Annotated[Path, typer.Option(help="folder for forecast.csv and .png")] = Path(
        "reports"
    ),
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """13-week cash forecast of the invoices open at --as-of: a table and a plot."""
    from payer_model.jobs.invoice import cash_forecast

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    res = cash_forecast(tables, cfg, as_of=as_of, tracking_uri=tracking_uri(), out_dir=out_dir)
    console.print(
        f"as of {res['as_of']}: {res['open_invoices']:,} open invoices, expected collections "
        f"over 13 weeks {res['total_expected']:,.0f}; table {res['table']}, plot {res['plot']}",
        highlight=False,
    )
    if "wape" in res:
        console.print(
            "WAPE vs actual: " + ", ".join(f"{k} {_f(v)}" for k, v in res["wape"].items()),
            highlight=False,
        )
    return res
