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

import pandas as pd

from payer_model.config import Settings, TrainConfig, load_config

log = logging.getLogger(__name__)

DEFAULT_TRAIN_CONFIG = Path("training/configs/train.yaml")


def load_tables(data: str | Path, cfg: TrainConfig) -> dict[str, pd.DataFrame | None]:
    """Validated contract tables of a data folder (bad rows quarantined, counted in the log)."""
    from payer_model.data.contract import load_dataset

    ds = load_dataset(
        data, max_bad_share=cfg.data.max_bad_share, default_currency=cfg.data.default_currency
    )
    quarantined = sum(ds.report.quarantined.values())
    if quarantined:
        log.warning("%d rows quarantined: %s", quarantined, dict(ds.report.reasons))
    return {
        "customers": ds.customers,
        "invoices": ds.invoices,
        "payments": ds.payments,
        "reminders": ds.reminders,
    }


def _setup(data: str | Path, config: str | Path | None) -> tuple[Any, Path, Any, Settings]:
    path = Path(config) if config is not None else DEFAULT_TRAIN_CONFIG
    cfg = load_config(path)
    return cfg, path, load_tables(data, cfg), Settings()


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
