"""Model-lifecycle commands for humans: promote, rollback, card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from payer_model.cli.main import ConfigOpt, JsonOpt, _config, _tracking_uri, app, command, console


@app.command()
@command
def promote(
    version: Annotated[str, typer.Argument(help="registered version to make champion")],
    force: Annotated[bool, typer.Option(help="override a failed gate (recorded)")] = False,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Make VERSION the champion if it passed its promotion gate (or --force)."""
    from payer_model.adapters import registry

    cfg, _ = _config(config)
    registry.configure(_tracking_uri())
    out = registry.promote(cfg.registered_model, version, force=force)
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
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Point the champion back at the version it replaced."""
    from payer_model.adapters import registry

    cfg, _ = _config(config)
    registry.configure(_tracking_uri())
    out = registry.rollback(cfg.registered_model, force=force)
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
    from payer_model.adapters import registry
    from payer_model.modelling.evaluation import model_card

    cfg, _ = _config(config)
    registry.configure(_tracking_uri())
    name = cfg.registered_model
    if version is None:
        mv = registry.alias_version(name, registry.CHAMPION)
        if mv is None:
            raise registry.RegistryError(f"no champion registered under '{name}'")
        version = str(mv.version)
    tags = registry.version_tags(name, version)
    run_id = tags.get("run_id")
    if not run_id:
        raise registry.RegistryError(f"{name} version {version} records no training run")
    metrics = json.loads(registry.run_artifact_text(run_id, "metrics.json"))
    metrics["backtest"] = json.loads(registry.run_artifact_text(run_id, "backtest.json"))
    text = model_card(
        metrics,
        version=version,
        name=name,
        features=json.loads(registry.run_artifact_text(run_id, "features.json")),
        labels=cfg.labels.model_dump(),
        split=json.loads(registry.run_artifact_text(run_id, "split.json")),
        gate=json.loads(registry.run_artifact_text(run_id, "gate.json")),
    )
    if tags.get("kind") == "rule":
        text = text.replace("# Model card:", "# Model card (rule rating champion):", 1)
    out = out or Path(f"reports/model_card_v{version}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"model card of {name} version {version} written to {out}", highlight=False)
    return {"version": version, "out": str(out)}
