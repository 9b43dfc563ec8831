"""The complete ``payer-model`` command line: the core app plus every command module.

The console script points here so that each capability keeps its commands in its own
module (``cli_model``, ``cli_tune``, ``cli_import``...) while ``payer_model.cli`` holds the
shared app and helpers. Every module imported here only imports Typer at the top, so
``--help`` stays instant.
"""

from __future__ import annotations

from payer_model import (
    cli_import,  # noqa: F401  (registers import)
    cli_model,  # noqa: F401  (registers promote, rollback, card)
    cli_monitor,  # noqa: F401  (registers monitor, retrain)
    cli_serve,  # noqa: F401  (registers serve, audit)
    cli_tune,  # noqa: F401  (registers tune)
)
from payer_model.cli import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app(prog_name="payer-model")
