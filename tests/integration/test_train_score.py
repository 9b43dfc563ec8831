"""Train on a generated portfolio against a real MLflow sqlite store, then score with
``models:/payer_rating@champion`` loaded back from the registry."""

import json

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from payer_model.adapters import registry
from payer_model.cli import app
from payer_model.data.schema import ALL_RATINGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()


def test_train_register_load_champion_and_score(small_portfolio, tracking_uri, tmp_path):
    metrics_file = tmp_path / "metrics.json"
    res = runner.invoke(app, ["train", str(small_portfolio), "--out", str(metrics_file)])
    assert res.exit_code == 0, res.output
    m = json.loads(metrics_file.read_text())
    for key in ("model", "run_id", "model_version", "promoted", "test_window"):
        assert key in m
    for part in (m["model"], m["baselines"]["rule"], m["baselines"]["persistence"]):
        assert {"macro_f1", "auc_bad", "log_loss", "recall"} <= set(part)
        assert set(part["recall"]) == {"good", "average", "bad"}

    # The champion alias exists and is loadable from the registry (model or rule).
    registry.configure(tracking_uri)
    mv = registry.alias_version("payer_rating", "champion")
    assert mv is not None
    model, _ = registry.download_bundle("payer_rating", "champion")
    assert model.kind == (m["champion_kind"] or "xgboost")
    # The run logged params, data fingerprint, and the confusion plot.
    run = mlflow.get_run(m["run_id"])
    assert run.data.tags["data_fingerprint"] == m["data_fingerprint"]
    assert "model_macro_f1" in run.data.metrics and "persistence_macro_f1" in run.data.metrics
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(m["run_id"], "plots")}
    assert "plots/confusion_matrix.png" in arts

    # Also via pyfunc: models:/payer_rating@champion predicts probabilities and ratings.
    pyfunc = mlflow.pyfunc.load_model("models:/payer_rating@champion")
    feats = pd.read_parquet(_features(small_portfolio, tmp_path))
    pred = pyfunc.predict(feats.head(20))
    assert set(pred["rating"]) <= set(ALL_RATINGS)

    out = tmp_path / "ratings.parquet"
    res = runner.invoke(
        app, ["score", str(small_portfolio), "--as-of", "2024-06-01", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    ratings = pd.read_parquet(out)
    customers = pd.read_csv(small_portfolio / "customers.csv")
    assert len(ratings) == len(customers)  # everyone rated or unrated, nobody dropped
    assert set(ratings["rating"]) <= set(ALL_RATINGS)
    rated = ratings[ratings["rating"] != "unrated"]
    assert ((rated[["p_good", "p_average", "p_bad"]].sum(axis=1) - 1).abs() < 1e-6).all()
    assert rated["score"].between(0, 100).all()
    assert (ratings["model_version"] == str(mv.version)).all()


def _features(data, tmp_path):
    out = tmp_path / "features.parquet"
    res = runner.invoke(app, ["features", str(data), "--as-of", "2024-06-01", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_score_without_champion_is_a_clear_error(small_portfolio, tracking_uri, tmp_path):
    res = runner.invoke(app, ["score", str(small_portfolio), "--out", str(tmp_path / "r.pq")])
    assert res.exit_code == 2
    assert "no 'champion' model" in res.output
    assert "Traceback" not in res.output


def test_too_little_history_says_how_much(tmp_path, tracking_uri):
    from payer_model.data.generate import generate_dataset, write_dataset

    write_dataset(generate_dataset(50, 8, seed=1), tmp_path / "short")
    res = runner.invoke(app, ["train", str(tmp_path / "short")])
    assert res.exit_code == 2
    assert "needs at least about" in res.output
