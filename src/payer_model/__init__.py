"""payer-model."""
