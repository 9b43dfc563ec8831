"""Data commands: ``generate``, ``validate``, ``features`` and ``import``."""

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
)
from payer_model.data.schema import RATINGS


@app.command()
@command
def generate(
    out: Annotated[Path, typer.Option(help="output folder")],
    customers: Annotated[int | None, typer.Option(help="number of customers [1500]")] = None,
    months: Annotated[int | None, typer.Option(help="months of history [24]")] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same files)")] = 42,
    start: Annotated[str, typer.Option(help="first day of the history")] = "2023-01-01",
    shift_from: Annotated[
        str | None, typer.Option(help="worsen payment behaviour from this date (drift tests)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    preset: Annotated[
        str | None,
        typer.Option(help="named setting, e.g. small-stable (100 customers, stable payers)"),
    ] = None,
    uplift: Annotated[
        bool, typer.Option(help="randomised chasing experiment (chase_log, effects in truth)")
    ] = False,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Write a synthetic portfolio (contract tables plus truth.csv) to OUT."""
    from payer_model.data.generate import generate_dataset, preset_dataset, write_dataset

    with err.status("generating synthetic portfolio"):
        if preset:
            tables = preset_dataset(
                preset,
                seed=seed,
                start=start,
                shift_from=shift_from,
                uplift=uplift,
                n_customers=customers,
                months=months,
            )
        else:
            tables = generate_dataset(
                customers or 1500,
                months or 24,
                seed=seed,
                start=start,
                shift_from=shift_from,
                uplift=uplift,
            )
        paths = write_dataset(tables, out, fmt=fmt)
    result = {name: len(df) for name, df in tables.items()}
    console.print(f"wrote {', '.join(f'{k} {v:,}' for k, v in result.items())} rows to {out}")
    return {"rows": result, "files": {k: str(v) for k, v in paths.items()}}


@app.command("labels-report")
@command
def labels_report(
    data: DataDir,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Class mix per month under the default and tight label presets; warns on empty classes."""
    from payer_model.features.labels import labels_report as report

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    res = report(tables["invoices"], cfg.split)
    for name, rep in res["presets"].items():
        table = Table(title=f"labels: {name} preset")
        for col in ("cutoff", "window", "good", "average", "bad"):
            table.add_column(col, justify="left" if col in ("cutoff", "window") else "right")
        for m in rep["months"]:
            table.add_row(m["as_of"], m["window"], *(f"{m[r]:,}" for r in RATINGS))
        console.print(table)
    for w in res["warnings"]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    return res


def print_contract_report(rep: Any, title: str) -> None:
    """Rows in / accepted / quarantined per table, quarantined rows by reason, notes."""
    table = Table(title=title)
    for col in ("table", "rows in", "accepted", "quarantined"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, n in rep.rows_in.items():
        table.add_row(
            name, f"{n:,}", f"{rep.rows_out.get(name, 0):,}", f"{rep.quarantined.get(name, 0):,}"
        )
    console.print(table)
    if rep.reasons:
        reasons = Table(title="quarantined rows by reason")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for reason, n in sorted(rep.reasons.items(), key=lambda kv: -kv[1]):
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
    for note in rep.notes:
        console.print(f"note: {note}", highlight=False)


def check_bad_share(rep: Any, limit: float, where: Any) -> dict[str, Any]:
    """The report as a dict; ``_exit_code`` 2 (and an error line) above the limit."""
    result = rep.to_dict()
    share = rep.bad_share("invoices")
    if share > limit:
        err.print(
            f"[bold red]error:[/] invoices: {share:.1%} of rows quarantined (limit {limit:.1%});"
            f" see {where}",
            highlight=False,
        )
        result["_exit_code"] = 2
    return result


@app.command()
@command
def validate(
    data: DataDir,
    quarantine: Annotated[
        Path, typer.Option(help="where quarantined rows and report.json go")
    ] = Path("reports/quarantine"),
    max_bad_share: Annotated[
        float | None, typer.Option(help="bad-row share that stops the run [config]")
    ] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Check a data folder against the contract; quarantine bad rows with their reason."""
    from payer_model.data.contract import load_dataset

    cfg, _ = load_config(config)
    limit = cfg.data.max_bad_share if max_bad_share is None else max_bad_share
    ds = load_dataset(
        data,
        quarantine_dir=quarantine,
        max_bad_share=limit,
        default_currency=cfg.data.default_currency,
        enforce_limit=False,
    )
    print_contract_report(ds.report, f"contract check: {data}")
    result = check_bad_share(ds.report, limit, quarantine)
    if "_exit_code" not in result:
        share = ds.report.bad_share("invoices")
        console.print(f"ok: {share:.2%} of invoice rows quarantined (limit {limit:.1%})")
    return result


@app.command()
@command
def features(
    data: DataDir,
    as_of: Annotated[str, typer.Option("--as-of", help="cutoff date YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="output Parquet file")],
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
    engine: EngineOpt = "duckdb",
) -> dict[str, Any]:
    """Compute as-of features (events dated on or after --as-of are unknown)."""
    from payer_model.features import compute, engine_options

    cfg, _ = load_config(config)
    tables = load_tables(data, cfg)
    with err.status("computing features"):
        feats = compute(tables, as_of, cfg, **engine_options(engine))
    out.parent.mkdir(parents=True, exist_ok=True)
    feats.to_parquet(out, index=False)
    console.print(f"wrote {len(feats):,} customers x {feats.shape[1] - 2} features to {out}")
    return {"rows": len(feats), "columns": list(feats.columns), "out": str(out)}


@app.command("import")
@command
def import_(
    src: Annotated[Path, typer.Argument(help="export file (CSV, Parquet, xlsx) or folder")],
    out: Annotated[Path, typer.Option(help="output data folder (contract tables)")],
    mapping: Annotated[
        Path | None, typer.Option(help="mapping YAML (see docs/real-data.md)")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="ibm-ar, erp-line-items or generic-ar")
    ] = None,
    default_currency: Annotated[
        str | None, typer.Option(help="currency of rows without one [config]")
    ] = None,
    max_bad_share: Annotated[
        float | None, typer.Option(help="quarantined share that fails the import [config]")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="training config")] = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Map an export onto the data contract with a mapping file or a preset."""
    from payer_model.data.importers import MappingError, import_export

    if (mapping is None) == (preset is None):
        raise MappingError("give exactly one of --mapping FILE or --preset NAME")
    cfg, _ = load_config(config)
    limit = cfg.data.max_bad_share if max_bad_share is None else max_bad_share
    currency = default_currency or cfg.data.default_currency
    with err.status("importing"):
        rep = import_export(
            src, mapping if mapping is not None else preset, out, default_currency=currency
        )
    for line in rep.lines():
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"wrote {out} (quarantine and import_report.json inside)", highlight=False)
    return check_bad_share(rep, limit, rep.files.get("quarantine_invoices", out))
