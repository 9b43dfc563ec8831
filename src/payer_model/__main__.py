"""``python -m payer_model`` runs the CLI."""

from payer_model.commands import main

main()
