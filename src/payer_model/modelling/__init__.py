"""modelling layer."""
