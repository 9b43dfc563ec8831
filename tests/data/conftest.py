"""Fixtures for the contract loader tests: tiny folders written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from contract_helpers import CUSTOMERS_CSV, INVOICES_CSV

from payer_model.data.contract import Dataset, load_dataset


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    """Write files (name -> text or bytes) into a fresh data folder and return it."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes]) -> Path:
        folder = tmp_path / f"data{next(counter)}"
        folder.mkdir()
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return folder

    return make


@pytest.fixture
def load(make_folder: Callable[..., Path], tmp_path: Path) -> Callable[..., Dataset]:
    """Load invoices (and optional other tables given as CSV text) without the limit."""

    def run(
        invoices: str = INVOICES_CSV, customers: str | None = CUSTOMERS_CSV, **extra: str | bytes
    ) -> Dataset:
        files: dict[str, str | bytes] = {"invoices.csv": invoices}
        if customers is not None:
            files["customers.csv"] = customers
        files.update({f"{name}.csv": text for name, text in extra.items()})
        folder = make_folder(files)
        return load_dataset(
            folder, quarantine_dir=tmp_path / f"q_{folder.name}", enforce_limit=False
        )

    return run
