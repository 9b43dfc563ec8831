"""``python -m payer_model`` runs the CLI."""

from payer_model.cli import main

main()
