"""The ``payer-model`` command line: one Typer app, one module per command group.

Importing this package registers every command; each module only imports Typer at the top,
so ``--help`` stays instant.
"""

from __future__ import annotations

from payer_model.cli import (
    imports,  # noqa: F401  (registers import)
    model,  # noqa: F401  (registers promote, rollback, card)
    monitor,  # noqa: F401  (registers monitor, retrain)
    serve,  # noqa: F401  (registers serve, audit)
    tune,  # noqa: F401  (registers tune)
)
from payer_model.cli.main import app

__all__ = ["app"]
