"""MLflow tracking adapter: runs, tags, params, metrics and artifacts (DESIGN §5).

With :mod:`payer_model.adapters.registry` (models and aliases), the only modules that import
MLflow, always inside functions so that importing ``payer_model`` stays cheap. Jobs log
through these functions and never touch MLflow themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def start_run(
    experiment_id: str, *, run_name: str | None = None, nested: bool = False
) -> Iterator[str]:
    """Open an MLflow run (ended on exit, failed on error); yields its run id."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=nested) as run:
        yield run.info.run_id


def set_tags(tags: Mapping[str, Any]) -> None:
    """Tag the active run."""
    import mlflow

    mlflow.set_tags(dict(tags))


def set_tag(key: str, value: Any) -> None:
    """Set one tag on the active run."""
    import mlflow

    mlflow.set_tag(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log parameters to the active run."""
    import mlflow

    mlflow.log_params(dict(params))


def log_metrics(metrics: Mapping[str, float]) -> None:
    """Log metrics to the active run."""
    import mlflow

    mlflow.log_metrics(dict(metrics))


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log one metric (optionally at a step) to the active run."""
    import mlflow

    mlflow.log_metric(key, value, step=step)


def flat_metrics(prefix: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """Numeric leaves of a nested metrics dict, keys joined with ``_`` after ``prefix``."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out |= flat_metrics(f"{prefix}{k}_", v)
        elif isinstance(v, int | float) and not isinstance(v, bool) and v is not None:
            out[f"{prefix}{k}"] = float(v)
    return out


def log_text(text: str, artifact_file: str) -> None:
    """Log a text artifact to the active run."""
    import mlflow

    mlflow.log_text(text, artifact_file)


def log_json(obj: Any, artifact_file: str) -> None:
    """Log a JSON artifact (indented, non-JSON values as strings) to the active run."""
    log_text(json.dumps(obj, indent=2, default=str), artifact_file)


def log_dict(obj: Mapping[str, Any], artifact_file: str) -> None:
    """Log a dict as a JSON or YAML artifact (by the file's extension), as MLflow writes it."""
    import mlflow

    mlflow.log_dict(dict(obj), artifact_file)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    """Copy a local file into the active run's artifacts."""
    import mlflow

    mlflow.log_artifact(str(path), artifact_path)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Log a matplotlib figure as an image artifact, then close it."""
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.log_figure(figure, artifact_file)
    plt.close(figure)


def find_run(experiment: str, tags: Mapping[str, str]) -> dict[str, Any] | None:
    """Latest finished run of ``experiment`` carrying all of ``tags``.

    Returns:
        ``{"run_id", "tags"}`` or None when there is no such run (or no such experiment).
    """
    import mlflow

    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return None
    where = " and ".join(f"tags.{k} = '{v}'" for k, v in tags.items())
    runs = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"{where} and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not runs:
        return None
    r = runs[0]
    return {"run_id": r.info.run_id, "tags": dict(r.data.tags)}


def find_runs(experiment: str, tags: Mapping[str, str], limit: int = 50) -> list[dict[str, Any]]:
    """Finished runs of ``experiment`` carrying all of ``tags``, newest first.

    Returns:
        ``[{"run_id", "tags"}]``; empty when there is no such run or experiment.
    """
    import mlflow

    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return []
    where = " and ".join(f"tags.{k} = '{v}'" for k, v in tags.items())
    runs = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"{where} and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=limit,
        output_format="list",
    )
    return [{"run_id": r.info.run_id, "tags": dict(r.data.tags)} for r in runs]


def tag_run(run_id: str, tags: Mapping[str, Any]) -> None:
    """Set tags on a (finished) run by id."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
