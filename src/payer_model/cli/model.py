"""Model commands: train, score, explain, demo, and the lifecycle (promote, rollback, card)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from payer_model.cli.common import (
    ConfigOpt,
    DataDir,
    EngineOpt,
    JsonOpt,
    app,
    command,
    console,
    err,
    load_config,
    load_tables,
    tracking_uri,
)

RATINGS_OUT = Path("reports/ratings.parquet")
METRICS_OUT = Path("reports/metrics.json")


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def print_metrics(metrics: dict[str, Any]) -> None:
    """The out-of-time comparison of the model and both baselines."""
    table = Table(
        title=f"out-of-time test ({', '.join(metrics['test_window']['cutoffs'])}, "
        f"{metrics['test_window']['rows']:,} snapshots)"
    )
    for col in ("model", "macro-F1", "AUC bad", "log loss", "ECE", "recall good/avg/bad"):
        table.add_column(col, justify="left" if col == "model" else "right")
    rows = [
        ((metrics.get("selection") or {}).get("chosen", "XGBoost"), metrics["model"]),
        ("rule rating", metrics["baselines"]["rule"]),
        ("persistence", metrics["baselines"]["persistence"]),
    ]
    for name, m in rows:
        rec = "/".join(_fmt(m["recall"][r]) for r in ("good", "average", "bad"))
        table.add_row(
            name,
            _fmt(m["macro_f1"]),
            _fmt(m.get("auc_bad")),
            _fmt(m.get("log_loss")),
            _fmt(m.get("ece")),
            rec,
        )
    console.print(table)


def print_training(metrics: dict[str, Any], out: Path, uri: str) -> None:
    """Metrics table, gate checks, the promotion message and where things were written."""
    print_metrics(metrics)
    for check in metrics["gate"]["checks"]:
        console.print(f"  gate {check}", highlight=False)
    console.print(f"[bold]{metrics['message']}[/]", highlight=False)
    console.print(f"metrics written to {out}; MLflow store {uri} (run {metrics['run_id']})")


def print_ratings(scored: dict[str, Any]) -> None:
    """Customers and share per rating, and the ratings file."""
    counts = scored["counts"]
    total = max(sum(counts.values()), 1)
    table = Table(
        title=f"ratings as of {scored['as_of']} (model version {scored['model_version']})"
    )
    table.add_column("rating")
    table.add_column("customers", justify="right")
    table.add_column("share", justify="right")
    for r, n in counts.items():
        table.add_row(r, f"{n:,}", f"{n / total:.1%}")
    console.print(table)
    console.print(f"wrote {sum(counts.values()):,} ratings to {scored['out']}")


@app.command()
@command
def train(
    data: DataDir,
    config: ConfigOpt = None,
    out: Annotated[Path, typer.Option(help="metrics JSON file")] = METRICS_OUT,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Train XGBoost and both baselines, log to MLflow, promote through the gate."""
    from payer_model.jobs.demo import train_and_save

    cfg, cfg_path = load_config(config)
    tables = load_tables(data, cfg)
    uri = tracking_uri()
    with err.status("training") as status:
        metrics = train_and_save(
            tables, cfg, tracking_uri=uri, config_path=cfg_path, out=out, progress=status.update
        )
    print_training(metrics, out, uri)
    return metrics


@app.command()
@command
def score(
    data: DataDir,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="cutoff date [day after the last event]")
    ] = None,
    out: Annotated[Path, typer.Option(help="output Parquet file")] = RATINGS_OUT,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
    engine: EngineOpt = "duckdb",
) -> dict[str, Any]:
    """Rate every customer with the champion model as of a date."""
    from payer_model.features import engine_options
    from payer_model.jobs.champion import score_portfolio

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    with err.status("loading champion and scoring"):
        scored = score_portfolio(
            tables,
            cfg,
            tracking_uri=tracking_uri(),
            out=out,
            as_of=as_of,
            **engine_options(engine),
        )
    print_ratings(scored)
    return scored


@app.command()
@command
def explain(
    data: DataDir,
    customer: Annotated[str, typer.Option(help="customer id")],
    as_of: Annotated[str, typer.Option("--as-of", help="cutoff date YYYY-MM-DD")],
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Print a customer's rating and its top reasons as of a date, with the champion."""
    from payer_model.jobs.champion import explain_customer

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    res = explain_customer(
        tables, customer, as_of, cfg, tracking_uri=tracking_uri(), source=str(data)
    )
    p = res.pop("probabilities")
    probs = (
        f" (P good {p['p_good']:.2f}, average {p['p_average']:.2f}, "
        f"bad {p['p_bad']:.2f}; score {p['score']:.0f})"
        if p
        else ""
    )
    console.print(
        f"[bold]{customer}[/] as of {as_of}: [bold]{res['rating']}[/]{probs}, "
        f"model version {res['model_version']}",
        highlight=False,
    )
    for k, r in enumerate(res["reasons"], 1):
        console.print(f"  {k}. {r['code']}: {r['text']}", highlight=False)
    return res


@app.command()
@command
def demo(
    data: Annotated[Path, typer.Argument(help="data folder")] = Path("data/sample"),
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Train, register and promote, score the portfolio, and print a summary."""
    from payer_model.jobs.demo import run_demo

    cfg, cfg_path = load_config(config)
    tables = load_tables(data, cfg)
    uri = tracking_uri()
    with err.status("training") as status:
        res = run_demo(
            tables,
            cfg,
            tracking_uri=uri,
            config_path=cfg_path,
            metrics_out=METRICS_OUT,
            ratings_out=RATINGS_OUT,
            progress=status.update,
        )
    metrics, scored = res["train"], res["score"]
    print_training(metrics, METRICS_OUT, uri)
    print_ratings(scored)
    if "invoices" in res:  # invoice-level results next to the customer-level ones
        from payer_model.cli.invoice import print_invoice_metrics, print_invoice_predictions

        console.rule("invoice level")
        print_invoice_metrics(res["invoices"]["metrics"])
        print_invoice_predictions(res["invoices"].pop("predictions"))
    console.rule("summary")
    console.print(
        f"champion: {metrics['champion_kind'] or 'unchanged'}; {metrics['message']}",
        highlight=False,
    )
    console.print(
        f"MLflow store: {uri}; open the UI with `make mlflow-ui` "
        f"(mlflow ui --backend-store-uri {uri}) and browse to http://127.0.0.1:5000",
        highlight=False,
    )
    console.print(f"ratings: {scored['out']}; metrics: {METRICS_OUT}", highlight=False)
    return res


@app.command()
@command
def promote(
    version: Annotated[str, typer.Argument(help="registered version to make champion")],
    force: Annotated[bool, typer.Option(help="override a failed gate (recorded)")] = False,
    model: Annotated[
        str | None, typer.Option(help="registered model [the rating model]; e.g. invoice_late")
    ] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Make VERSION the champion if it passed its promotion gate (or --force)."""
    from payer_model.adapters import registry

    cfg, _ = load_config(config)
    registry.configure(tracking_uri())
    out = registry.promote(model or cfg.registered_model, version, force=force)
    if not out["changed"]:
        console.print(out["message"], highlight=False)
        return out
    console.print(
        f"champion -> version {out['version']} (was {out['previous_champion']}); "
        f"forced: {out['forced']}",
        highlight=False,
    )
    return out


@app.command()
@command
def rollback(
    force: Annotated[bool, typer.Option(help="override a failed gate (recorded)")] = False,
    model: Annotated[
        str | None, typer.Option(help="registered model [the rating model]; e.g. invoice_late")
    ] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Point the champion back at the version it replaced."""
    from payer_model.adapters import registry

    cfg, _ = load_config(config)
    registry.configure(tracking_uri())
    out = registry.rollback(model or cfg.registered_model, force=force)
    console.print(
        f"champion rolled back from version {out['rolled_back_from']} to {out['version']}",
        highlight=False,
    )
    return out


@app.command()
@command
def card(
    version: Annotated[
        str | None, typer.Argument(help="registered version [the champion]")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the Markdown here")] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Write the model card (Markdown) of a registered version."""
    from payer_model.jobs.champion import write_model_card

    cfg, _ = load_config(config)
    res = write_model_card(cfg, tracking_uri=tracking_uri(), version=version, out=out)
    console.print(
        f"model card of {cfg.registered_model} version {res['version']} written to {res['out']}",
        highlight=False,
    )
    return res
