"""``payer-model import``: bring a foreign export (ERP, accounting CSV) onto the contract.

Registered on the main app by importing this module (``payer_model.cli.main`` does it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from payer_model.cli.main import JsonOpt, _config, app, command, console, err


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
    cfg, _ = _config(config)
    limit = cfg.data.max_bad_share if max_bad_share is None else max_bad_share
    currency = default_currency or cfg.data.default_currency
    with err.status("importing"):
        rep = import_export(
            src, mapping if mapping is not None else preset, out, default_currency=currency
        )
    for line in rep.lines():
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"wrote {out} (quarantine and import_report.json inside)", highlight=False)
    result = rep.to_dict()
    share = rep.bad_share("invoices")
    if share > limit:
        err.print(
            f"[bold red]error:[/] invoices: {share:.1%} of rows quarantined (limit {limit:.1%});"
            f" see {rep.files.get('quarantine_invoices', out)}",
            highlight=False,
        )
        result["_exit_code"] = 2
    return result
