"""Quarantine files of a contract load: ``<table>.csv`` of the bad rows and ``report.json``.

The import's quarantine (``_import_quarantine/``) is written by
:mod:`payer_model.data.importers`, with rows of the source file rather than of the contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from payer_model.data.report import ValidationReport
from payer_model.data.schema import TABLES

__all__ = ["write_quarantine"]


def write_quarantine(
    directory: Path, quarantine: Mapping[str, pd.DataFrame], report: ValidationReport
) -> None:
    """Write ``<table>.csv`` of the bad rows per table and ``report.json``; drop stale files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        path = directory / f"{name}.csv"
        if name in quarantine:
            quarantine[name].to_csv(path, index=False, lineterminator="\n")
            report.quarantine_files[name] = str(path)
        elif path.is_file():
            path.unlink()  # a stale file from an earlier run would read as current errors
    (directory / "report.json").write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
