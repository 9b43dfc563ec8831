"""Periodic retraining job (DESIGN §8): idempotent wrapper around ``jobs.train.train``.

The same data fingerprint and the same config hash reuse the earlier MLflow run: no new
model is trained and no version is registered. Otherwise a challenger is trained;
``jobs.train.train`` compares it with the champion on the same out-of-time window and
promotes it only through the gate. The decision is tagged on the run and written to the
audit store (source ``retrain``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


def config_hash(cfg) -> str:
    """Short sha256 of the resolved training config."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


def tables_as_of(
    tables: Mapping[str, pd.DataFrame | None], as_of: Any
) -> dict[str, pd.DataFrame | None]:
    """The tables as they were known before ``as_of`` (later events removed)."""
    t = pd.Timestamp(as_of)
    out: dict[str, pd.DataFrame | None] = dict(tables)
    inv = tables["invoices"]
    inv = inv[pd.to_datetime(inv["invoice_date"]) < t].copy()
    for col in ("paid_date", "dispute_date", "written_off_date"):
        if col in inv.columns:
            late = pd.to_datetime(inv[col]) >= t
            inv.loc[late, col] = pd.NaT
            if col == "paid_date" and "paid_amount" in inv.columns:
                inv.loc[late, "paid_amount"] = float("nan")
            if col == "dispute_date" and "disputed" in inv.columns:
                inv.loc[late, "disputed"] = False
    out["invoices"] = inv
    for name, col in (("payments", "payment_date"), ("reminders", "sent_date")):
        df = tables.get(name)
        if df is not None and len(df):
            out[name] = df[pd.to_datetime(df[col]) < t]
    return out


def find_run(experiment: str, fingerprint: str, chash: str) -> dict[str, Any] | None:
    """Latest finished run of this data and config, by ``retrain`` or by ``train``/``demo``.

    A retrain run carries both tags. A ``train`` run carries the data fingerprint only; its
    config is the ``config/resolved.yaml`` it logged, hashed as :func:`config_hash` does.
    """
    from payer_model.adapters import tracking

    tagged = tracking.find_run(experiment, {"data_fingerprint": fingerprint, "config_hash": chash})
    if tagged is not None:
        return tagged
    for run in tracking.find_runs(experiment, {"data_fingerprint": fingerprint}):
        if "config_hash" not in run["tags"] and _logged_config_hash(run["run_id"]) == chash:
            return run
    return None


def _logged_config_hash(run_id: str) -> str | None:
    """:func:`config_hash` of the resolved config a run logged (None when unreadable)."""
    import yaml

    from payer_model.adapters import registry
    from payer_model.config import TrainConfig

    try:
        raw = yaml.safe_load(registry.run_artifact_text(run_id, "config/resolved.yaml"))
        return config_hash(TrainConfig.model_validate(raw))
    except Exception as exc:  # a run without a readable config is simply not a match
        log.info("run %s: no readable config/resolved.yaml (%s)", run_id, exc)
        return None


def _earlier_result(previous: dict[str, Any], name: str) -> dict[str, Any]:
    """What an earlier run of the same data and config decided (reused, nothing registered)."""
    from payer_model.adapters import registry, tracking

    tags = previous["tags"]
    version, decision = tags.get("model_version"), tags.get("retrain_decision")
    if version is None:  # a train/demo run: find what it registered
        versions = registry.versions_of_run(name, previous["run_id"])
        version = next((v for v, t in versions if t.get("kind") != "rule"), None)
        champion = registry.alias_version(name, registry.CHAMPION)
        champ = None if champion is None else str(champion.version)
        decision = "promoted" if version is not None and version == champ else "kept_champion"
        tracking.tag_run(
            previous["run_id"],
            {"config_hash": tags.get("config_hash") or "", "model_version": version or ""},
        )
    return {"model_version": version, "decision": decision, "gate": tags.get("gate")}


def _record_decision(
    metrics: dict[str, Any],
    decision: str,
    *,
    fingerprint: str,
    chash: str,
    as_of: Any,
    audit_db: str | Path | None,
) -> None:
    """Write the decision to the audit store (source ``retrain``) when one is given."""
    from payer_model.adapters.audit import AuditStore

    if audit_db is None:
        return
    AuditStore(audit_db).record_decisions(
        [
            {
                "customer_id": "*",
                "as_of": str(pd.Timestamp(as_of).date()) if as_of else "",
                "model_version": metrics["model_version"],
                "reasons": metrics["gate"]["checks"],
                "payload": {
                    "decision": decision,
                    "run_id": metrics["run_id"],
                    "data_fingerprint": fingerprint,
                    "config_hash": chash,
                    "message": metrics["message"],
                },
            }
        ],
        source="retrain",
    )


def retrain(
    tables: Mapping[str, pd.DataFrame | None],
    cfg,
    *,
    tracking_uri: str,
    config_path: str | Path | None = None,
    as_of: Any = None,
    audit_db: str | Path | None = None,
) -> dict[str, Any]:
    """Train a challenger on the newest window unless this data and config were seen.

    Returns:
        ``run_id``, ``model_version``, ``promoted``, ``reused``, ``data_fingerprint``,
        ``config_hash``, ``decision`` and the gate checks.
    """
    from payer_model.adapters import registry, tracking
    from payer_model.jobs.train import data_fingerprint, train

    data = tables_as_of(tables, as_of) if as_of is not None else dict(tables)
    fingerprint, chash = data_fingerprint(data), config_hash(cfg)
    registry.configure(tracking_uri)
    previous = find_run(cfg.experiment, fingerprint, chash)
    if previous is not None:
        log.info(
            "retrain: data %s and config %s already trained in run %s",
            fingerprint,
            chash,
            previous["run_id"],
        )
        previous["tags"].setdefault("config_hash", chash)
        earlier = _earlier_result(previous, cfg.registered_model)
        return {
            "reused": True,
            "run_id": previous["run_id"],
            "model_version": earlier["model_version"],
            "promoted": earlier["decision"] == "promoted",
            "decision": earlier["decision"],
            "data_fingerprint": fingerprint,
            "config_hash": chash,
            "gate": earlier["gate"],
        }
    metrics = train(data, cfg, tracking_uri=tracking_uri, config_path=config_path)
    decision = "promoted" if metrics["promoted"] else "kept_champion"
    tracking.tag_run(
        metrics["run_id"],
        {
            "config_hash": chash,
            "job": "retrain",
            "retrain_decision": decision,
            "model_version": metrics["model_version"],
            "as_of": str(pd.Timestamp(as_of).date()) if as_of is not None else "",
        },
    )
    registry.set_version_tags(
        cfg.registered_model, metrics["model_version"], {"retrain_decision": decision}
    )
    _record_decision(
        metrics, decision, fingerprint=fingerprint, chash=chash, as_of=as_of, audit_db=audit_db
    )
    return {
        "reused": False,
        "run_id": metrics["run_id"],
        "model_version": metrics["model_version"],
        "promoted": metrics["promoted"],
        "decision": decision,
        "data_fingerprint": fingerprint,
        "config_hash": chash,
        "gate": metrics["gate"],
        "message": metrics["message"],
    }
