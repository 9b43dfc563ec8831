"""Serving fixtures: one trained champion per test session (real MLflow sqlite store)."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from serving_helpers import BURST_KEY, FUZZ_KEY, KEY, SALT, load_service
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def champion_store(small_portfolio, tmp_path_factory) -> dict[str, str]:
    """Train once into a temp MLflow store; returns the env a service needs."""
    from payer_model.cli import app

    root = tmp_path_factory.mktemp("serving-store")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    old = os.environ.get("PAYER_TRACKING_URI")
    os.environ["PAYER_TRACKING_URI"] = uri
    try:
        res = CliRunner().invoke(app, ["train", str(small_portfolio)])
    finally:
        if old is None:
            os.environ.pop("PAYER_TRACKING_URI", None)
        else:
            os.environ["PAYER_TRACKING_URI"] = old
    assert res.exit_code == 0, res.output
    return {"PAYER_TRACKING_URI": uri, "root": str(root)}


@pytest.fixture(scope="session")
def portfolio_tables(small_portfolio):
    from payer_model.data.contract import load_dataset

    ds = load_dataset(small_portfolio)
    return {
        "customers": ds.customers,
        "invoices": ds.invoices,
        "payments": ds.payments,
        "reminders": ds.reminders,
    }


@pytest.fixture(scope="session")
def as_of(portfolio_tables) -> str:
    last = pd.Timestamp(portfolio_tables["invoices"]["invoice_date"].max())
    return (last - pd.Timedelta(days=60)).date().isoformat()


@pytest.fixture
def serving_env(champion_store, tmp_path, monkeypatch) -> dict[str, str]:
    env = {
        "PAYER_TRACKING_URI": champion_store["PAYER_TRACKING_URI"],
        "PAYER_API_KEYS": f"{KEY},{FUZZ_KEY},{BURST_KEY}",
        "PAYER_AUDIT_DB": str(tmp_path / "audit.db"),
        "PAYER_RATE_LIMIT_PER_MIN": "100000",
        "PAYER_RATE_LIMIT_BURST": "1000",
        "PAYER_MAX_BODY_BYTES": "2000000",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture(scope="session")
def client_env(champion_store, tmp_path_factory):
    """One TestClient on the service's ASGI app per session (BentoML registers its metrics
    once per process: a second app would duplicate them); returns (client, env)."""
    from starlette.testclient import TestClient

    mp = pytest.MonkeyPatch()
    where = tmp_path_factory.mktemp("asgi")
    env = {
        "PAYER_TRACKING_URI": champion_store["PAYER_TRACKING_URI"],
        "PAYER_API_KEYS": f"{KEY},other-key-0123456789",
        "PAYER_AUDIT_DB": str(where / "audit.db"),
        "PAYER_LEDGER_URL": f"sqlite:///{where / 'ledger.db'}",
        "PAYER_RATE_LIMIT_PER_MIN": "100000",
        "PAYER_RATE_LIMIT_BURST": "1000",
        "PAYER_MAX_BODY_BYTES": "300000",
        "PAYER_AUDIT_KEY_SALT": SALT,
        "PAYER_RELOAD_INTERVAL_S": "0",
    }
    for k, v in env.items():
        mp.setenv(k, v)
    with TestClient(load_service().to_asgi()) as client:
        yield client, env
    mp.undo()
