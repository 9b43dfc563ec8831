"""Out-of-memory in the feature query is one clear line naming the settings."""

from __future__ import annotations

import pandas as pd
import pytest

from payer_model.data.generate import generate_dataset
from payer_model.features import build_features
from payer_model.features.batch import FeatureResourceError, connect


@pytest.fixture(scope="module")
def big():
    tables = generate_dataset(8000, 24, seed=1, invoices_per_month=1.1)  # ~180k invoices
    assert len(tables["invoices"]) > 150_000
    return tables


def test_tiny_memory_limit_fails_with_a_clear_message(big):
    inv = big["invoices"]
    con = connect(temp_dir="", memory_limit="20MB")
    with pytest.raises(FeatureResourceError) as info:
        build_features(
            inv,
            pd.Timestamp(inv["invoice_date"].max()).normalize(),
            customers=big["customers"],
            payments=big["payments"],
            con=con,
        )
    msg = str(info.value)
    assert "\n" not in msg
    assert "PAYER_DUCKDB_MEMORY_LIMIT" in msg and "PAYER_DUCKDB_TEMP_DIR" in msg
    assert "memory_limit=19.0 MiB" in msg or "memory_limit=20" in msg
    assert isinstance(info.value, MemoryError)
    # the connection is still usable afterwards (views released, no dangling result)
    assert con.execute("SELECT 1").fetchall() == [(1,)]


def test_settings_reach_the_connection(tmp_path, monkeypatch):
    from payer_model.features.batch import connect_from_settings

    monkeypatch.setenv("PAYER_DUCKDB_TEMP_DIR", str(tmp_path))
    monkeypatch.setenv("PAYER_DUCKDB_MEMORY_LIMIT", "300MB")
    con = connect_from_settings()
    ((limit, temp),) = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()
    assert temp == str(tmp_path)
    assert limit.startswith("286") or "MiB" in limit or "MB" in limit
