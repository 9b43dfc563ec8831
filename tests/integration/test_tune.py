"""Optuna tuning against a real MLflow sqlite store and a real Optuna sqlite storage."""

from pathlib import Path

import pytest

from payer_model.config import TrainConfig, load_config
from payer_model.data.generate import generate_dataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _fast_config() -> TrainConfig:
    cfg = TrainConfig()
    # Fewer rounds keep each trial well under a second; the search space is unchanged.
    return cfg.model_copy(update={"model": cfg.model.model_copy(update={"num_boost_round": 60})})


def _child_runs(tracking_uri: str, experiment_id: str, parent_id: str):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )


def test_tune_nested_runs_resume_and_config(tracking_uri, tmp_path):
    import mlflow
    import optuna

    from payer_model.jobs.tune import tune

    tables = generate_dataset(300, 20, seed=11)
    cfg = _fast_config()
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    out = tmp_path / "tuned.yaml"

    first = tune(
        tables, cfg, n_trials=4, storage=storage, tracking_uri=tracking_uri, out_config=out
    )

    children = _child_runs(tracking_uri, first["experiment_id"], first["parent_run_id"])
    assert len(children) == 4
    assert set(children["tags.state"]) <= {"complete", "pruned"}
    assert children["params.max_depth"].notna().all()
    parent = mlflow.get_run(first["parent_run_id"])
    assert parent.data.tags["job"] == "tune"
    assert parent.data.tags["data_fingerprint"] == first["data_fingerprint"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(parent.info.run_id, "plots")}
    assert "plots/optimization_history.png" in artifacts

    study = optuna.load_study(study_name=first["study_name"], storage=storage)
    assert len(study.trials) == 4
    # The first trial of a new study is the input config, so tuning never ends worse on val.
    assert study.trials[0].params["max_depth"] == cfg.model.params["max_depth"]
    assert first["best_value"] == pytest.approx(study.best_value)
    assert first["best_value"] <= study.trials[0].value

    tuned = load_config(out)
    assert tuned.model.params == first["best_params"]
    for k, v in study.best_params.items():
        assert tuned.model.params[k] == pytest.approx(v)
    assert tuned.labels == cfg.labels and tuned.split == cfg.split

    second = tune(
        tables, cfg, n_trials=2, storage=storage, tracking_uri=tracking_uri, out_config=out
    )
    assert second["n_trials"]["total"] == 6
    assert second["n_trials"]["this_call"] == 2
    assert len(optuna.load_study(study_name="payer-rating", storage=storage).trials) == 6
    assert second["parent_run_id"] != first["parent_run_id"]
    assert len(_child_runs(tracking_uri, second["experiment_id"], second["parent_run_id"])) == 2


def test_default_storage_sits_next_to_the_mlflow_db(tmp_path):
    from payer_model.jobs.tune import default_storage

    db = tmp_path / "store" / "mlflow.db"
    assert default_storage(f"sqlite:///{db}") == f"sqlite:///{db.parent / 'optuna.db'}"
    assert default_storage("http://mlflow:5000") == "sqlite:///mlflow/optuna.db"


def test_cli_tune(small_portfolio, tracking_uri, tmp_path):
    import json

    import optuna
    from typer.testing import CliRunner

    import payer_model.cli.tune  # noqa: F401  (registers the command)
    from payer_model.cli import app

    cfg_path = tmp_path / "fast.yaml"
    cfg_path.write_text(
        "model:\n  num_boost_round: 60\n  early_stopping_rounds: 20\n", encoding="utf-8"
    )
    out = tmp_path / "tuned.yaml"
    result_json = tmp_path / "tune.json"
    res = CliRunner().invoke(
        app,
        [
            "tune",
            str(small_portfolio),
            "--trials",
            "2",
            "--config",
            str(cfg_path),
            "--out",
            str(out),
            "--json",
            str(result_json),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "validation log loss" in res.output
    result = json.loads(result_json.read_text())
    assert result["n_trials"]["total"] == 2
    # Default storage: next to the MLflow db of PAYER_TRACKING_URI.
    db = Path(tracking_uri.removeprefix("sqlite:///")).parent / "optuna.db"
    assert result["storage"] == f"sqlite:///{db}"
    assert len(optuna.load_study(study_name="payer-rating", storage=result["storage"]).trials) == 2
    assert load_config(out).model.num_boost_round == 60
