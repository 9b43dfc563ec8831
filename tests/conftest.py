"""Shared fixtures: small generated portfolios written to temporary folders."""

from pathlib import Path

import pytest

from payer_model.data.generate import generate_dataset, write_dataset


@pytest.fixture(scope="session")
def small_portfolio(tmp_path_factory) -> Path:
    """400 customers over 20 months, as CSV files (the contract's folder layout)."""
    out = tmp_path_factory.mktemp("portfolio")
    write_dataset(generate_dataset(400, 20, seed=7), out)
    return out


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A real MLflow sqlite store in a temp dir, picked up by the CLI via PAYER_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("PAYER_TRACKING_URI", uri)
    return uri
