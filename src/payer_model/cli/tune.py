"""``payer-model tune``: Optuna search over the XGBoost parameters (registered on import)."""

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


@app.command()
@command
def tune(
    data: DataDir,
    trials: Annotated[int, typer.Option(help="trials to run (added to a resumed study)")] = 20,
    timeout: Annotated[
        float | None, typer.Option(help="stop starting trials after this many seconds")
    ] = None,
    config: ConfigOpt = None,
    out: Annotated[Path, typer.Option(help="where the best config YAML is written")] = Path(
        "training/configs/tuned.yaml"
    ),
    study: Annotated[str, typer.Option(help="Optuna study name (resumed if it exists)")] = (
        "payer-rating"
    ),
    storage: Annotated[
        str | None, typer.Option(help="Optuna RDB URL [optuna.db next to the MLflow store]")
    ] = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Tune the model on the time-based validation slice; write the best config to OUT."""
    from payer_model.jobs.tune import tune as run_tune

    if trials < 1:
        raise ValueError("--trials must be at least 1")
    cfg, path = load_config(config)
    tables = load_tables(data, cfg)
    with err.status(f"tuning: {trials} trials"):
        result = run_tune(
            tables,
            cfg,
            n_trials=trials,
            timeout=timeout,
            storage=storage,
            study_name=study,
            tracking_uri=tracking_uri(),
            out_config=out,
            config_path=path,
        )
    n = result["n_trials"]
    table = Table(
        title=f"best of {n['total']} trials ({n['complete']} complete, {n['pruned']} pruned)"
    )
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for k, v in result["best_params"].items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    table.add_row("[bold]validation log loss[/]", f"{result['best_value']:.4f}")
    f1 = result.get("best_val_macro_f1")
    table.add_row("validation macro-F1", "-" if f1 is None else f"{f1:.3f}")
    console.print(table)
    t = result["test"]
    console.print(
        "test window (information only): macro-F1 "
        f"{t['tuned']['macro_f1']:.3f} tuned vs {t['input_config']['macro_f1']:.3f} input, "
        f"log loss {t['tuned']['log_loss']:.4f} vs {t['input_config']['log_loss']:.4f}",
        highlight=False,
    )
    console.print(
        f"wrote {result['out_config']}; study {result['study_name']} in {result['storage']}; "
        f"MLflow parent run {result['parent_run_id']}",
        highlight=False,
        soft_wrap=True,
    )
    return result
