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
        log.error("model registry unreachable: %s", exc)
        raise RegistryError(f"model registry unreachable ({type(exc).__name__})") from None


def download_bundle(name: str, alias: str = CHAMPION, dst: str | Path | None = None, loader=None):
    """Download and load the bundle of ``models:/name@alias``.

    The download goes to ``dst`` or to a temporary folder removed once the model is in
    memory. Error messages name the model and version, never local paths or tracebacks
    (they reach API clients); the details go to the log.

    ``loader`` reads the bundle folder (default :func:`load_bundle`, the rating model; the
    invoice model passes ``InvoiceLateModel.load``).

    Returns:
        (model, version) where version is the MLflow ModelVersion.

    Raises:
        RegistryError: no such alias, unreachable store, or unreadable artifacts.
    """
    try:
        mv = alias_version(name, alias)
    except RegistryError:
        raise
    except Exception as exc:
        log.error("model registry unreachable: %s", exc)
        raise RegistryError(f"model registry unreachable ({type(exc).__name__})") from None
    if mv is None:
        raise RegistryError(
            f"no '{alias}' model registered under '{name}': run `payer-model train` first"
        )
    if dst is not None:
        return _load_version(name, alias, mv, Path(dst), loader), mv
    with tempfile.TemporaryDirectory(prefix="payer-model-") as tmp:
        return _load_version(name, alias, mv, Path(tmp), loader), mv


def _load_version(name: str, alias: str, mv: Any, dst: Path, loader=None):
    import mlflow

    where = f"models:/{name}@{alias} (version {mv.version})"
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(dst)
        )
    except Exception as exc:
        log.error("could not download %s: %s", where, exc)
        raise RegistryError(f"could not download {where} ({type(exc).__name__})") from None
    try:
        return (loader or load_bundle)(Path(local) / "artifacts" / "bundle")
    except ValueError as exc:
        log.error("%s is not a usable model: %s", where, exc)
        raise RegistryError(
            f"{where} is corrupt or unreadable; see the server log, or roll back"
        ) from None


def log_model(
    model,
    name: str,
    features_example,
    signature_output,
    texts: dict[str, str] | None = None,
    python_model=None,
) -> Any:
    """Log a bundle as an MLflow pyfunc (with signature and input example); return its info.

    Logged as "models from code" (:mod:`payer_model.adapters.pyfunc_code`): the model folder
    holds the bundle (JSON/UBJSON) and that source file, no pickle, so loading it with
    ``mlflow.pyfunc.load_model`` runs only this package's code. ``texts`` (file name ->
    content, e.g. the model card) travel with the model's own artifacts, so every
    registered version carries them.
    """
    import mlflow
    from mlflow.models import infer_signature

    from payer_model.adapters import pyfunc_code

    with tempfile.TemporaryDirectory() as tmp:
        bundle = model.save(Path(tmp) / "bundle")
        artifacts = {"bundle": str(bundle)}
        for fname, content in (texts or {}).items():
            (Path(tmp) / fname).write_text(content)
            artifacts[Path(fname).stem] = str(Path(tmp) / fname)
        signature = infer_signature(features_example, signature_output)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=python_model or pyfunc_code.__file__,
            artifacts=artifacts,
            pip_requirements=model_requirements(),
            signature=signature,
            input_example=features_example.head(3),
        )


def model_requirements() -> list[str]:
    """Pinned requirements of a logged model: this package and what its model code imports.

    Stated rather than inferred: MLflow's inference loads the model in a subprocess to see
    what it imports, which took 8 of the 21 s of training a 100-customer portfolio.
    """
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for dist in ("payer-model", "mlflow", "xgboost", "numpy", "pandas", "pyarrow", "scikit-learn"):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:  # a source checkout without metadata: unpinned
            reqs.append(dist)
    return reqs


def register(model_uri: str, name: str, tags: dict[str, str]) -> Any:
    """Register ``model_uri`` as a new version of ``name`` with ``tags``."""
    import mlflow

    mv = mlflow.register_model(model_uri, name)
    client = _client()
    for k, v in tags.items():
        client.set_model_version_tag(name, mv.version, k, str(v))
    return mv


HISTORY_TAG = "champion_history"
_HISTORY_KEEP = 200


def champion_history(name: str) -> list[str] | None:
    """Earlier champions of ``name``, oldest first (None: registered before history existed)."""
    tags = dict(_client().get_registered_model(name).tags)
    if HISTORY_TAG not in tags:
        return None
    return [v for v in tags[HISTORY_TAG].split(",") if v]


def _set_history(name: str, history: list[str]) -> None:
    _client().set_registered_model_tag(name, HISTORY_TAG, ",".join(history[-_HISTORY_KEEP:]))


def set_alias(name: str, alias: str, version: str | int) -> None:
    """Point ``alias`` at ``version``.

    For the champion alias every change is history: the replaced champion is pushed onto
    the model's ``champion_history`` tag and recorded as ``previous_champion`` on the new
    one, so :func:`rollback` steps back through earlier champions, whether they were set by
    ``promote`` or by training. Pointing the champion at itself changes nothing.
    """
    version = str(version)
    client = _client()
    if alias == CHAMPION:
        current = alias_version(name, CHAMPION)
        if current is not None and str(current.version) == version:
            return
        if current is not None:
            history = champion_history(name) or []
            _set_history(name, [*history, str(current.version)])
        else:
            _set_history(name, champion_history(name) or [])
        previous = "" if current is None else str(current.version)
        client.set_model_version_tag(name, version, "previous_champion", previous)
    client.set_registered_model_alias(name, alias, version)


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


def _version(name: str, version: str | int) -> Any:
    try:
        return _client().get_model_version(name, str(version))
    except Exception as exc:
        raise RegistryError(f"{name} version {version} not found: {exc}") from None


def _gate_passed(tags: dict[str, str]) -> bool:
    gate_text = tags.get("gate", "")
    return tags.get("kind") == "rule" or bool(gate_text and "FAIL" not in gate_text)


def _record(name: str, version: str, record: dict[str, str]) -> None:
    client = _client()
    for k, v in record.items():
        client.set_model_version_tag(name, version, k, v)


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def promote(
    name: str, version: str | int, *, force: bool = False, actor: str = "cli", reason: str = ""
) -> dict[str, Any]:
    """Move ``champion`` to ``version`` if its recorded gate passed (or ``force``).

    The decision is recorded as tags on the version (who, when, forced, previous champion)
    and the replaced champion joins the history :func:`rollback` walks back. Promoting the
    current champion is a no-op (``changed`` False).

    Raises:
        RegistryError: unknown version, or the gate failed and ``force`` is not set.
    """
    mv = _version(name, version)
    tags = dict(mv.tags)
    passed = _gate_passed(tags)
    current = alias_version(name, CHAMPION)
    if current is not None and str(current.version) == str(mv.version):
        return {
            "version": str(mv.version),
            "previous_champion": tags.get("previous_champion") or None,
            "changed": False,
            "message": f"version {mv.version} is already the champion: nothing changed",
        }
    if not passed and not force:
        raise RegistryError(
            f"{name} version {version} did not pass its promotion gate ({tags.get('gate', '')}); "
            "use --force to override (recorded)"
        )
    set_alias(name, CHAMPION, mv.version)
    previous = str(current.version) if current is not None else ""
    record = {
        "promoted_at": _now(),
        "promoted_by": actor,
        "forced": str(bool(force and not passed)),
        "promotion_reason": reason or "gate passed",
    }
    _record(name, str(mv.version), record)
    return {
        "version": str(mv.version),
        "previous_champion": previous or None,
        "changed": True,
        **record,
    }


def rollback(name: str, *, force: bool = False, actor: str = "cli") -> dict[str, Any]:
    """Point ``champion`` back at the champion before it, one step back in the history.

    Repeated rollbacks walk further back (they never flip between two versions); the
    rolled-back-to version keeps its own place in the history.

    Raises:
        RegistryError: no champion, no earlier champion, or the earlier one fails its gate
            without ``force``.
    """
    current = alias_version(name, CHAMPION)
    if current is None:
        raise RegistryError(f"no champion registered under '{name}': nothing to roll back")
    history = champion_history(name)
    if history is None:  # registered before the history tag: one step via the version tag
        legacy = dict(current.tags).get("previous_champion")
        history = [legacy] if legacy else []
    while history and history[-1] == str(current.version):
        history.pop()
    if not history:
        raise RegistryError(
            f"champion version {current.version} of '{name}' has no earlier champion "
            "to roll back to"
        )
    target = _version(name, history[-1])
    if not _gate_passed(dict(target.tags)) and not force:
        raise RegistryError(
            f"{name} version {target.version} did not pass its promotion gate; "
            "use --force to roll back to it anyway (recorded)"
        )
    _client().set_registered_model_alias(name, CHAMPION, str(target.version))
    _set_history(name, history[:-1])
    record = {
        "promoted_at": _now(),
        "promoted_by": actor,
        "forced": str(bool(force)),
        "promotion_reason": f"rollback from version {current.version}",
        "rolled_back_from": str(current.version),
    }
    _record(name, str(target.version), record)
    return {
        "version": str(target.version),
        "previous_champion": history[-2] if len(history) > 1 else None,
        "changed": True,
        **record,
    }


def versions_of_run(name: str, run_id: str) -> list[tuple[str, dict[str, str]]]:
    """``(version, tags)`` of every version of ``name`` registered from ``run_id``."""
    found = _client().search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return sorted(((str(v.version), dict(v.tags)) for v in found), key=lambda x: int(x[0]))


def run_artifact_text(run_id: str, path: str) -> str:
    """Text of one artifact of a run."""
    import mlflow

    return mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")
