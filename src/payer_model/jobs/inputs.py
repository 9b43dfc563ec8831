"""Inputs every job reads the same way: the training config file and a data folder."""

from __future__ import annotations

import logging
from pathlib import Path

from payer_model.config import DEFAULT_TRAIN_CONFIG, TrainConfig, load_config
from payer_model.data.report import Dataset, ValidationReport

log = logging.getLogger(__name__)


def config_file(path: str | Path | None) -> Path | None:
    """``path``, else ``training/configs/train.yaml`` when it exists, else None (defaults)."""
    if path is not None:
        return Path(path)
    return DEFAULT_TRAIN_CONFIG if DEFAULT_TRAIN_CONFIG.exists() else None


def load_training_config(path: str | Path | None = None) -> tuple[TrainConfig, Path | None]:
    """The training config (:func:`config_file` resolves the file) and the file used."""
    file = config_file(path)
    return load_config(file), file


def quarantine_summary(report: ValidationReport, top: int = 4) -> str | None:
    """``"12 rows quarantined (due_before_invoice 9, ...)"``, or None when none were."""
    n = sum(report.quarantined.values())
    if not n:
        return None
    worst = sorted(report.reasons.items(), key=lambda kv: -kv[1])[:top]
    return f"{n} rows quarantined ({', '.join(f'{k} {v}' for k, v in worst)})"


def load_tables(
    data: str | Path, cfg: TrainConfig, quarantine_dir: str | Path | None = None
) -> Dataset:
    """The validated tables of a data folder under the config's data rules."""
    from payer_model.data.contract import load_dataset

    ds = load_dataset(
        data,
        quarantine_dir=quarantine_dir,
        max_bad_share=cfg.data.max_bad_share,
        default_currency=cfg.data.default_currency,
    )
    summary = quarantine_summary(ds.report)
    if summary:
        log.warning("%s: %s", data, summary)
    return ds
