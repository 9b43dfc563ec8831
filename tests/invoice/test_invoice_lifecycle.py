"""train-invoices registers invoice_late with its own aliases; predict-invoices and forecast
write their outputs; promote / rollback --model work on the invoice model."""

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from payer_model.adapters import registry
from payer_model.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()


def test_train_predict_forecast_and_lifecycle(
    small_portfolio, tracking_uri, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # reports/ lands here
    res = runner.invoke(app, ["train-invoices", str(small_portfolio), "--json", "t1.json"])
    assert res.exit_code == 0, res.output
    first = json.loads((tmp_path / "t1.json").read_text())
    registry.configure(tracking_uri)
    assert first["promoted"] is True, first["gate"]
    assert (
        str(registry.alias_version("invoice_late", "champion").version) == first["model_version"]
    )
    assert registry.alias_version("payer_rating", "champion") is None  # separate model
    card = (tmp_path / "reports" / "invoice_model_card.md").read_text()
    assert "survival:aft" in card and "late share" in card

    res = runner.invoke(
        app,
        ["predict-invoices", str(small_portfolio), "--as-of", "2024-05-01", "--out", "p.parquet"],
    )
    assert res.exit_code == 0, res.output
    pred = pd.read_parquet(tmp_path / "p.parquet")
    assert {"p_late", "band", "expected_pay_date", "pay_date_low", "pay_date_high"} <= set(
        pred.columns
    )
    assert set(pred["band"]) <= {"Low", "Medium", "High"}

    res = runner.invoke(
        app, ["forecast", str(small_portfolio), "--as-of", "2024-01-01", "--out-dir", "fc"]
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "fc" / "forecast.csv")
    assert len(table) == 13 and {"model", "due_date", "customer_mean", "actual"} <= set(table)
    assert (tmp_path / "fc" / "forecast.png").stat().st_size > 0

    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump({"invoice": {"min_auc_gain": 1.0}}))
    res = runner.invoke(
        app, ["train-invoices", str(small_portfolio), "--config", str(strict), "--json", "t2.json"]
    )
    assert res.exit_code == 0, res.output
    second = json.loads((tmp_path / "t2.json").read_text())
    assert second["promoted"] is False
    assert second["champion_before"]["version"] == first["model_version"]
    assert (
        str(registry.alias_version("invoice_late", "challenger").version)
        == second["model_version"]
    )
    res = runner.invoke(app, ["promote", second["model_version"], "--model", "invoice_late"])
    assert res.exit_code == 2 and "did not pass" in res.output
    res = runner.invoke(
        app, ["promote", second["model_version"], "--model", "invoice_late", "--force"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["rollback", "--model", "invoice_late"])
    assert res.exit_code == 0, res.output
    assert (
        str(registry.alias_version("invoice_late", "champion").version) == first["model_version"]
    )
