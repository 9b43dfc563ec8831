"""The ``payer-model`` command line: one Typer app, one module per command group.

:mod:`.common` holds the app, the consoles and the ``command`` wrapper; importing this
package registers every command group (:mod:`.data`, :mod:`.model`, :mod:`.policy`,
:mod:`.monitor`, :mod:`.serve`, :mod:`.tune`). Each module imports only Typer and Rich at
the top, so ``--help`` stays instant.
"""

from __future__ import annotations

from payer_model.cli import (
    data,  # noqa: F401  (registers generate, validate, features, import)
    invoice,  # noqa: F401  (registers train-invoices, predict-invoices, forecast)
    live,  # noqa: F401  (registers ingest, refresh, alerts, outbox, review, customer)
    model,  # noqa: F401  (registers train, score, explain, demo, promote, rollback, card)
    monitor,  # noqa: F401  (registers monitor, retrain)
    policy,  # noqa: F401  (registers policy validate/show/simulate, worklist)
    serve,  # noqa: F401  (registers serve, audit)
    tune,  # noqa: F401  (registers tune)
)
from payer_model.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m payer_model``."""
    app(prog_name="payer-model")
