"""MLflow adapter: tracking, registry aliases and loading the champion (DESIGN §5).

With :mod:`payer_model.adapters.tracking` (run logging), the only modules that import MLflow,
always inside functions so that importing ``payer_model`` stays cheap.
"""

from __future__ import annotations

import fcntl
import json
import logging
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from payer_model.modelling.model import load_bundle

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


class RegistryError(RuntimeError):
    """The registry is unreachable or holds no usable model (message says which)."""


def artifact_root_for(tracking_uri: str, default: str = "mlflow/artifacts") -> str:
    """Artifact root next to a sqlite store (``<db folder>/artifacts``), else ``default``."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return str((db.parent / "artifacts").resolve())
    return str(Path(default).resolve())


def configure(tracking_uri: str) -> None:
    """Point MLflow at ``tracking_uri`` (creating the sqlite folder and schema when needed).

    A new sqlite store is created under an exclusive file lock: API workers starting
    together against an empty store would otherwise race to create the same tables
    (``table ... already exists``) and one would report the registry unreachable.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if not tracking_uri.startswith("sqlite:///"):
        return
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client = _client()
            client.search_experiments(max_results=1)  # builds the tracking schema
            client.search_registered_models(max_results=1)  # and the registry's
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """Experiment id for ``name``, created with an explicit artifact location."""
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = Path(artifact_root_for(tracking_uri)) / name
    root.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=root.as_uri())


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def alias_version(name: str, alias: str = CHAMPION) -> Any | None:
    """The model version behind ``alias``, or None when the alias or the model is missing."""
    from mlflow.exceptions import MlflowException

    try:
        return _client().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
            return None
        raise RegistryError(f"model registry unreachable: {exc}") from None


def download_bundle(name: str, alias: str = CHAMPION, dst: str | Path | None = None, loader=None):
    """Download and load the bundle of ``models:/name@alias``.

    ``loader`` reads the bundle folder (default :func:`load_bundle`, the rating model; the
    invoice model passes ``InvoiceLateModel.load``).

    Returns:
        (model, version) where version is the MLflow ModelVersion.

    Raises:
        RegistryError: no such alias, unreachable store, or unreadable artifacts.
    """
    import mlflow

    try:
        mv = alias_version(name, alias)
    except RegistryError:
        raise
    except Exception as exc:
        raise RegistryError(f"model registry unreachable: {exc}") from None
    if mv is None:
        raise RegistryError(
            f"no '{alias}' model registered under '{name}': run `payer-model train` first"
        )
    dst = Path(dst or tempfile.mkdtemp(prefix="payer-model-"))
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}@{alias}", dst_path=str(dst)
        )
    except Exception as exc:
        raise RegistryError(f"could not download models:/{name}@{alias}: {exc}") from None
    bundle = Path(local) / "artifacts" / "bundle"
    try:
        model = (loader or load_bundle)(bundle)
    except ValueError as exc:
        raise RegistryError(f"models:/{name}@{alias} (version {mv.version}): {exc}") from None
    return model, mv


def log_model(
    model,
    name: str,
    features_example,
    signature_output,
    texts: dict[str, str] | None = None,
    python_model=None,
) -> Any:
    """Log a bundle as an MLflow pyfunc (with signature and input example); return its info.

    ``python_model`` is the pyfunc wrapper (default ``PayerRatingPyfunc``; the invoice model
    passes ``InvoiceLatePyfunc``).

    ``texts`` (file name -> content, e.g. the model card) travel with the model's own
    artifacts, so every registered version carries them.
    """
    import mlflow
    from mlflow.models import infer_signature

    from payer_model.adapters.pyfunc import PayerRatingPyfunc

    with tempfile.TemporaryDirectory() as tmp:
        bundle = model.save(Path(tmp) / "bundle")
        artifacts = {"bundle": str(bundle)}
        for fname, content in (texts or {}).items():
            (Path(tmp) / fname).write_text(content)
            artifacts[Path(fname).stem] = str(Path(tmp) / fname)
        signature = infer_signature(features_example, signature_output)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=python_model or PayerRatingPyfunc(),
            artifacts=artifacts,
            signature=signature,
            input_example=features_example.head(3),
        )


def register(model_uri: str, name: str, tags: dict[str, str]) -> Any:
    """Register ``model_uri`` as a new version of ``name`` with ``tags``."""
    import mlflow

    mv = mlflow.register_model(model_uri, name)
    client = _client()
    for k, v in tags.items():
        client.set_model_version_tag(name, mv.version, k, str(v))
    return mv


def set_alias(name: str, alias: str, version: str | int) -> None:
    """Point ``alias`` at ``version``."""
    _client().set_registered_model_alias(name, alias, str(version))


def version_tags(name: str, version: str | int) -> dict[str, str]:
    """Tags of one model version."""
    return dict(_client().get_model_version(name, str(version)).tags)


def set_version_tags(name: str, version: str | int, tags: dict[str, Any]) -> None:
    """Set tags on one model version."""
    client = _client()
    for k, v in tags.items():
        client.set_model_version_tag(name, str(version), k, str(v))


def log_json(obj: Any, artifact_file: str) -> None:
    """Log a JSON artifact to the active run."""
    import mlflow

    mlflow.log_text(json.dumps(obj, indent=2, default=str), artifact_file)


def run_url(tracking_uri: str, run_id: str, experiment_id: str) -> str:
    """Where to see a run once ``mlflow ui`` is started on the store."""
    host = "http://127.0.0.1:5000"
    if urlparse(tracking_uri).scheme in ("http", "https"):
        host = tracking_uri.rstrip("/")
    return f"{host}/#/experiments/{experiment_id}/runs/{run_id}"


def promote(
    name: str, version: str | int, *, force: bool = False, actor: str = "cli", reason: str = ""
) -> dict[str, Any]:
    """Move ``champion`` to ``version`` if its recorded gate passed (or ``force``).

    The decision is recorded as tags on the version (who, when, forced, previous champion).

    Raises:
        RegistryError: unknown version, or the gate failed and ``force`` is not set.
    """
    import datetime as dt

    client = _client()
    try:
        mv = client.get_model_version(name, str(version))
    except Exception as exc:
        raise RegistryError(f"{name} version {version} not found: {exc}") from None
    tags = dict(mv.tags)
    gate_text = tags.get("gate", "")
    passed = tags.get("kind") == "rule" or (gate_text and "FAIL" not in gate_text)
    if not passed and not force:
        raise RegistryError(
            f"{name} version {version} did not pass its promotion gate ({gate_text}); "
            "use --force to override (recorded)"
        )
    current = alias_version(name, CHAMPION)
    previous = str(current.version) if current is not None else ""
    set_alias(name, CHAMPION, mv.version)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = {
        "promoted_at": now,
        "promoted_by": actor,
        "forced": str(bool(force and not passed)),
        "previous_champion": previous,
        "promotion_reason": reason or "gate passed",
    }
    for k, v in record.items():
        client.set_model_version_tag(name, mv.version, k, v)
    return {"version": str(mv.version), "previous_champion": previous or None, **record}


def rollback(name: str, *, force: bool = False, actor: str = "cli") -> dict[str, Any]:
    """Point ``champion`` back at the version it replaced (recorded on the current one)."""
    current = alias_version(name, CHAMPION)
    if current is None:
        raise RegistryError(f"no champion registered under '{name}': nothing to roll back")
    previous = dict(current.tags).get("previous_champion")
    if not previous:
        raise RegistryError(
            f"champion version {current.version} records no previous champion to roll back to"
        )
    out = promote(
        name, previous, force=force, actor=actor, reason=f"rollback from version {current.version}"
    )
    return out | {"rolled_back_from": str(current.version)}


def run_artifact_text(run_id: str, path: str) -> str:
    """Text of one artifact of a run."""
    import mlflow

    return mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")
