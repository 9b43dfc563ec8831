"""Scheduled jobs: what a cron line or an orchestrator task runs (``training/*.py``).

Each function takes paths and dates (what a scheduler passes), loads the config and the
data, calls one job and returns its JSON-ready result:

- :func:`run_retrain` — monthly or on new data: :func:`payer_model.jobs.retrain.retrain`;
- :func:`run_monitor` — monthly drift: :func:`payer_model.jobs.monitor.monitor`;
- :func:`run_refresh` — daily scoring: :func:`payer_model.jobs.champion.score_portfolio`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from payer_model.config import Settings
from payer_model.jobs.inputs import load_tables, load_training_config

log = logging.getLogger(__name__)


def _setup(data: str | Path, config: str | Path | None) -> tuple[Any, Path | None, Any, Settings]:
    cfg, path = load_training_config(config)
    return cfg, path, load_tables(data, cfg).tables, Settings()


def run_retrain(
    data: str | Path, *, config: str | Path | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """Retrain on ``data`` (as known before ``as_of``); idempotent for the same data and config."""
    from payer_model.jobs.retrain import retrain

    cfg, path, tables, settings = _setup(data, config)
    return retrain(
        tables,
        cfg,
        tracking_uri=settings.tracking_uri,
        config_path=path,
        as_of=as_of,
        audit_db=settings.audit_db,
    )


def run_monitor(
    data: str | Path,
    *,
    reference: str,
    current: str,
    out: str | Path,
    config: str | Path | None = None,
    monitor_config: str | Path | None = None,
    policies: str | Path | None = None,
) -> dict[str, Any]:
    """Drift, migration, KPIs and alerts of the champion between two dates, into ``out``."""
    from payer_model.jobs.champion import load_champion
    from payer_model.jobs.monitor import monitor
    from payer_model.monitoring.alerts import load_monitor_config
    from payer_model.policy.policies import DEFAULT_POLICY_FILE, load_policies

    cfg, _, tables, settings = _setup(data, config)
    model, version = load_champion(cfg, settings.tracking_uri)
    return monitor(
        tables,
        reference,
        current,
        model,
        cfg,
        load_policies(policies or DEFAULT_POLICY_FILE),
        out,
        load_monitor_config(monitor_config),
        model_version=version,
    )


def run_refresh(
    data: str | Path,
    *,
    out: str | Path,
    as_of: str | None = None,
    config: str | Path | None = None,
) -> dict[str, Any]:
    """Rate every customer with the champion as of ``as_of`` (default: now); write Parquet."""
    from payer_model.jobs.champion import score_portfolio

    cfg, _, tables, settings = _setup(data, config)
    return score_portfolio(tables, cfg, tracking_uri=settings.tracking_uri, out=out, as_of=as_of)
