"""Issue 19, items 6 and 7: the registry as a history, and no pickle in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from payer_model.adapters import registry
from payer_model.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()
NAME = "payer_rating"


def test_history_rollback_retrain_and_no_pickle(small_portfolio, tracking_uri, tmp_path):
    import mlflow

    res = runner.invoke(app, ["train", str(small_portfolio)])
    assert res.exit_code == 0, res.output
    registry.configure(tracking_uri)
    first = registry.alias_version(NAME, "champion")
    n_versions = len(mlflow.MlflowClient().search_model_versions(f"name = '{NAME}'"))

    # 6. retrain on the data and config `train` just used: recognised, nothing registered
    res = runner.invoke(app, ["retrain", str(small_portfolio)])
    assert res.exit_code == 0, res.output
    assert len(mlflow.MlflowClient().search_model_versions(f"name = '{NAME}'")) == n_versions
    assert registry.alias_version(NAME, "champion").version == first.version

    # two more versions of the same model, promoted in turn (the second as training does)
    uri = f"models:/{NAME}/{first.version}"
    tags = dict(first.tags)
    v2 = registry.register(uri, NAME, tags).version
    v3 = registry.register(uri, NAME, tags).version
    registry.promote(NAME, v2)
    registry.set_alias(NAME, registry.CHAMPION, v3)  # automatic promotion, as in train
    assert registry.version_tags(NAME, v3)["previous_champion"] == str(v2)

    # promoting the champion again changes nothing and records nothing about itself
    out = registry.promote(NAME, v3)
    assert out["changed"] is False
    assert registry.version_tags(NAME, v3)["previous_champion"] == str(v2)
    res = runner.invoke(app, ["promote", str(v3)])
    assert res.exit_code == 0 and "already the champion" in res.output

    # rollback steps back through history: v3 -> v2 -> first, then says there is no more
    for expected in (v2, first.version):
        res = runner.invoke(app, ["rollback"])
        assert res.exit_code == 0, res.output
        assert str(registry.alias_version(NAME, "champion").version) == str(expected)
    res = runner.invoke(app, ["rollback"])
    assert res.exit_code == 2 and "no earlier champion" in res.output

    # 7. a standard MLflow consumer loads the champion without unpickling anything
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    example = model.metadata.load_input_example(model.metadata.artifact_path)
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{NAME}@champion", dst_path=str(tmp_path / "m")
        )
    )
    assert not [p for p in local.rglob("*") if p.suffix in (".pkl", ".pickle", ".cloudpickle")]
    if example is not None:
        out = model.predict(example)
        assert set(out["rating"]) <= {"good", "average", "bad", "unrated"}
