"""Promotion gate, promote / rollback for humans, model card and backtest artifacts."""

import json

import mlflow
import pytest
import yaml
from typer.testing import CliRunner

from payer_model.adapters import registry
from payer_model.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()


def _train(data, tmp_path, *extra):
    out = tmp_path / f"m{len(list(tmp_path.glob('m*.json')))}.json"
    res = runner.invoke(app, ["train", str(data), "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())


def test_gate_promote_rollback_and_card(small_portfolio, tracking_uri, tmp_path):
    first = _train(small_portfolio, tmp_path)
    registry.configure(tracking_uri)
    champ1 = registry.alias_version("payer_rating", "champion").version

    # A challenger that cannot pass the gate stays challenger and is refused by promote.
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump({"gate": {"min_gain_over_persistence": 1.0}}))
    second = _train(small_portfolio, tmp_path, "--config", str(strict))
    assert second["promoted"] is False
    assert any(c.startswith("FAIL") for c in second["gate"]["checks"])
    assert "champion_before" in second  # compared with the champion on the same window
    assert registry.alias_version("payer_rating", "champion").version == champ1
    assert (
        str(registry.alias_version("payer_rating", "challenger").version)
        == second["model_version"]
    )
    tags = registry.version_tags("payer_rating", second["model_version"])
    assert "FAIL" in tags["gate"]

    res = runner.invoke(app, ["promote", second["model_version"]])
    assert res.exit_code == 2 and "did not pass" in res.output
    res = runner.invoke(app, ["promote", second["model_version"], "--force"])
    assert res.exit_code == 0, res.output
    tags = registry.version_tags("payer_rating", second["model_version"])
    assert tags["forced"] == "True" and tags["previous_champion"] == str(champ1)

    res = runner.invoke(app, ["rollback"])
    assert res.exit_code == 0, res.output
    assert registry.alias_version("payer_rating", "champion").version == champ1

    card_file = tmp_path / "card.md"
    res = runner.invoke(app, ["card", "--out", str(card_file)])
    assert res.exit_code == 0, res.output
    text = card_file.read_text()
    for section in ("Intended use", "Backtest", "bootstrap", "Human review", "Known limits"):
        assert section in text

    # Card, backtest and reliability plot are artifacts of the run / registered model.
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(first["run_id"])}
    assert {"model_card.md", "backtest.json", "metrics.json"} <= arts
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(first["run_id"], "plots")}
    assert "plots/reliability.png" in plots
    bt = first["backtest"]["by_rating"]
    assert [b["rating"] for b in bt] == ["good", "average", "bad"]
    if first["champion_kind"] == "xgboost":
        # "bad" must mean something: later, more late payment than "good".
        assert bt[2]["mean_days_late"] > bt[0]["mean_days_late"]
