"""Features from files read in place equal features from in-memory frames.

The path-based entry (``compute(folder)``) lets DuckDB scan Parquet/CSV directly; the
in-memory entry stays what the API, the parity tests and notebooks use. Both must give the
same frame, for one cutoff (the scoring plan) and many (the training-set plan), and the
training set assembled in one DuckDB query must equal the frame-level assembly.
"""

from __future__ import annotations

import pandas as pd
import pytest

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset, write_dataset
from payer_model.features import Tables, compute
from payer_model.features.labels import label_snapshots
from payer_model.modelling.baselines import rule_rating
from payer_model.modelling.snapshots import build_snapshots

CFG = TrainConfig()
T = pd.Timestamp("2024-07-01")
CUTS = list(pd.date_range("2024-01-01", periods=6, freq="MS"))


@pytest.fixture(scope="module")
def tables():
    return generate_dataset(150, 20, seed=11, start="2023-01-01")


@pytest.fixture(scope="module", params=["parquet", "csv"])
def folder(request, tables, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"files_{request.param}")
    write_dataset(tables, out, fmt=request.param)
    return out


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), rtol=1e-9)


@pytest.mark.parametrize("as_of", [T, CUTS], ids=["one_cutoff", "six_cutoffs"])
def test_files_equal_frames(tables, folder, as_of):
    _same(compute(folder, as_of, CFG), compute(tables, as_of, CFG))


def test_tables_of_paths_mixes_files_and_frames(tables, folder):
    files = Tables.from_folder(folder)
    mixed = Tables(invoices=files.invoices, customers=tables["customers"])
    frames = {"invoices": tables["invoices"], "customers": tables["customers"]}
    _same(compute(mixed, T, CFG), compute(frames, T, CFG))


def test_missing_optional_files_read_as_absent(tables, tmp_path):
    write_dataset({"invoices": tables["invoices"]}, tmp_path, fmt="parquet")
    _same(compute(tmp_path, T, CFG), compute({"invoices": tables["invoices"]}, T, CFG))


def test_many_cutoffs_equal_one_at_a_time_from_files(folder):
    together = compute(folder, CUTS, CFG)
    apart = pd.concat([compute(folder, c, CFG) for c in CUTS], ignore_index=True)
    _same(together, apart)


def test_missing_required_column_names_it(tables, tmp_path):
    write_dataset({"invoices": tables["invoices"].drop(columns=["due_date"])}, tmp_path)
    with pytest.raises(ValueError, match="due_date"):
        compute(tmp_path, T, CFG)


def test_snapshots_in_one_query_equal_frame_assembly(tables, folder):
    snap = build_snapshots(folder, CUTS, CFG)
    feats = compute(tables, CUTS, CFG)
    feats["rated"] = feats["paid_n"] >= CFG.features.min_paid_invoices
    feats["rule_rating"] = rule_rating(feats, CFG.labels)
    lab = label_snapshots(tables["invoices"], CUTS, CFG.labels)
    expected = feats.merge(lab, on=["customer_id", "as_of"], how="left")
    assert list(snap.columns) == list(expected.columns)
    assert snap["label"].notna().sum() > 100
    _same(snap, expected)


def test_snapshots_in_cutoff_groups_equal_one_query(tables, folder, monkeypatch):
    from payer_model.modelling import snapshots

    whole = build_snapshots(folder, CUTS, CFG)
    # a budget of about two cutoffs per query
    monkeypatch.setattr(
        snapshots, "BYTES_PER_INVOICE_CUTOFF", 2**40 / (2.5 * len(tables["invoices"]))
    )
    monkeypatch.setenv("PAYER_DUCKDB_MEMORY_LIMIT", "1TB")
    _same(build_snapshots(folder, CUTS, CFG), whole)
