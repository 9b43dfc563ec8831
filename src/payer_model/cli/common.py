"""What every command shares: the Typer app, consoles, option types and the ``command`` wrapper.

Heavy libraries (pandas, DuckDB, XGBoost, MLflow) are imported inside the functions that
need them so that ``payer-model --help`` answers at once. Every command returns a dict,
prints a readable summary, and can write the dict as JSON with ``--json FILE``. Expected
failures (bad input, bad config, too little history, no champion) end with a one-line
message and exit code 2, never a traceback; set ``PAYER_DEBUG=1`` to see one anyway.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    name="payer-model",
    help="Rate B2B payers good / average / bad, explain it, and track it in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Argument(help="folder with customers/invoices CSV or Parquet")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="training config YAML [training/configs/train.yaml]"),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="also write the result as JSON")]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="policy file [serving/policies.yaml]")
]
EngineOpt = Annotated[str, typer.Option(help="duckdb (embedded) or spark")]


def settings():
    """The process settings (``PAYER_*`` variables, :class:`payer_model.config.Settings`)."""
    from payer_model.config import Settings

    return Settings()


def debug_enabled() -> bool:
    """``PAYER_DEBUG``: show tracebacks (a value that is not a boolean also counts as set)."""
    from pydantic import ValidationError

    try:
        return settings().debug
    except ValidationError:
        return True


def setup_logging() -> None:
    """Log level from ``PAYER_LOG_LEVEL``; quiet MLflow's own loggers."""
    from pydantic import ValidationError

    try:
        level = settings().log_level.upper()
    except ValidationError:
        level = "WARNING"
    # MLflow configures its own loggers on import; these keep the CLI output readable.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error on stderr; returns the ``typer.Exit`` to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input or state (exit 2), as opposed to a bug (exit 1)."""
    from payer_model.adapters.registry import RegistryError
    from payer_model.config import ConfigError
    from payer_model.data.contract import ContractError
    from payer_model.features.labels import InsufficientHistoryError

    return (
        ContractError,
        ConfigError,
        InsufficientHistoryError,
        RegistryError,
        ValueError,
        FileNotFoundError,
        KeyError,
    )


def one_line(exc: BaseException) -> str:
    """First line of an exception's message (its type name when it has none)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write a command's result as indented JSON (dates and paths as strings)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2, default=str))


def command(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Wrap a command: logging, one-line errors, optional JSON output; returns the result.

    A result with ``_exit_code`` set ends the process with that code (after the JSON is
    written); the wrapped function is still plain to call from Python.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        setup_logging()
        json_out = kwargs.get("json_out")
        try:
            result = fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:
            if debug_enabled():
                raise
            expected = isinstance(exc, expected_errors())
            msg = one_line(exc)
            if not expected:
                msg = f"unexpected {type(exc).__name__}: {msg} (PAYER_DEBUG=1 shows details)"
            raise fail(msg, 2 if expected else 1) from None
        if json_out and result is not None:
            write_json(result, json_out)
        code = (result or {}).get("_exit_code", 0)
        if code:
            raise typer.Exit(code)
        return result

    return wrapper


def load_config(path: Path | None):
    """The training config and the file it came from (the default file when it exists)."""
    from payer_model.jobs.inputs import load_training_config

    return load_training_config(path)


def tracking_uri() -> str:
    """``PAYER_TRACKING_URI``."""
    return settings().tracking_uri


def load_policies(path: Path | None):
    """The validated policy set of ``path`` (``serving/policies.yaml`` by default)."""
    from payer_model.policy.policies import DEFAULT_POLICY_FILE
    from payer_model.policy.policies import load_policies as load

    return load(path or DEFAULT_POLICY_FILE)


def load_tables(data: Path, cfg, quarantine_dir: Path | None = None) -> dict[str, Any]:
    """Validated tables of a data folder (bad rows quarantined and reported on stderr)."""
    from payer_model.jobs.inputs import load_tables as load
    from payer_model.jobs.inputs import quarantine_summary

    ds = load(data, cfg, quarantine_dir)
    summary = quarantine_summary(ds.report)
    if summary:
        err.print(f"[yellow]{summary}[/]", highlight=False)
    return ds.tables


def load_champion(cfg):
    """The champion model of the registry and its model version."""
    from payer_model.jobs.champion import load_champion as load

    return load(cfg, tracking_uri())
