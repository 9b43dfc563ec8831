"""``payer-model monitor`` and ``payer-model retrain`` (DESIGN §8).

Exit codes of ``monitor``: 0 no alert, 1 at least one alert fired (see ``alerts.jsonl``),
2 an error (bad input, no champion, bad config...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from payer_model.cli.common import (
    ConfigOpt,
    DataDir,
    JsonOpt,
    app,
    command,
    console,
    debug_enabled,
    err,
    fail,
    load_champion,
    load_config,
    load_policies,
    load_tables,
    settings,
    tracking_uri,
)

MonitorCfgOpt = Annotated[
    Path | None,
    typer.Option("--monitor-config", help="thresholds YAML [training/configs/monitor.yaml]"),
]


@app.command()
@command
def monitor(
    data: DataDir,
    reference: Annotated[str, typer.Option("--reference", help="reference as-of date")],
    current: Annotated[str, typer.Option("--current", help="current as-of date")],
    out: Annotated[Path | None, typer.Option(help="[reports/monitoring/CURRENT/]")] = None,
    workspace: Annotated[Path | None, typer.Option(help="Evidently workspace [config]")] = None,
    policy: Annotated[Path, typer.Option(help="segment policies")] = Path("serving/policies.yaml"),
    monitor_config: MonitorCfgOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Drift, migration, KPIs and alerts between two dates; exit 1 when an alert fired."""
    try:
        from payer_model.jobs.monitor import monitor as monitor_job
        from payer_model.monitoring.alerts import load_monitor_config

        cfg, _ = load_config(config)
        mcfg = load_monitor_config(monitor_config)
        tables = load_tables(data, cfg)
        target = out or Path("reports/monitoring") / current
        with err.status("scoring both dates and running Evidently"):
            model, version = load_champion(cfg)
            summary = monitor_job(
                tables,
                reference,
                current,
                model,
                cfg,
                load_policies(policy),
                target,
                mcfg,
                model_version=version,
                workspace=workspace,
            )
    except typer.Exit:
        raise
    except Exception as exc:  # exit 2 for every error: 1 means "alert"
        if debug_enabled():
            raise
        raise fail(
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", 2
        ) from None
    bad = summary["bad_share_rated"]
    console.print(
        f"bad share {bad['reference']:.1%} -> {bad['current']:.1%}; feature drift "
        f"share {summary['drift']['drift_share']:.0%}; "
        f"{summary['migration']['moved']} customers changed rating",
        highlight=False,
    )
    for a in summary["alerts"]:
        console.print(f"[bold red]ALERT[/] {a['type']}: {a['message'][:300]}", highlight=False)
    console.print(f"reports in {target} (portfolio.html, report.html)", highlight=False)
    return {**summary, "_exit_code": 1 if summary["alerts"] else 0}


@app.command()
@command
def retrain(
    data: DataDir,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="use only what was known before this date")
    ] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Train a challenger on the newest window; promote through the gate; idempotent."""
    from payer_model.jobs.retrain import retrain as retrain_job

    cfg, path = load_config(config)
    tables = load_tables(data, cfg)
    with err.status("retraining"):
        result = retrain_job(
            tables,
            cfg,
            tracking_uri=tracking_uri(),
            config_path=path,
            as_of=as_of,
            audit_db=settings().audit_db,
        )
    if result["reused"]:
        console.print(
            f"same data ({result['data_fingerprint']}) and config: reused run "
            f"{result['run_id']}, no new version",
            highlight=False,
        )
    else:
        console.print(
            f"model version {result['model_version']}: {result['decision']}", highlight=False
        )
    return result
