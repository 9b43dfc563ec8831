"""Quarantine files, the report, the bad-share limit, typed inputs and output dtypes."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pandas as pd
import pytest
from contract_helpers import (
    CUSTOMERS_CSV,
    GOOD_INVOICE_ROWS,
    INVOICE_HEADER,
    INVOICES_CSV,
    assert_nothing_lost,
)

from payer_model.data.contract import ContractError, load_dataset, validate_frames
from payer_model.data.report import REASONS
from payer_model.data.schema import (
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    PAYMENT_COLUMNS,
    REMINDER_COLUMNS,
)

MESSY_INVOICES = (
    INVOICE_HEADER
    + GOOD_INVOICE_ROWS
    + (
        "I3,C9,2024-01-05,2024-02-04,10,\n"
        "I4,C1,05/01/2024,2024-02-04,10,\n"
        "I1,C1,2024-01-05,2024-02-04,10,\n"
        "I5,C1,2024-01-05,2024-01-01,0,\n"
    )
)
MESSY_CUSTOMERS = (
    CUSTOMERS_CSV + "C1,company,x,DE,30,1,Dup Name,dup@example.com\nC3,martian,,,,,,\n"
)
MESSY_PAYMENTS = (
    "payment_id,invoice_id,payment_date,amount\nP1,I1,2024-01-20,50\nP2,I3,2024-01-20,5\n"
)
MESSY_REMINDERS = "invoice_id,sent_date,channel\nI2,2024-01-30,email\nI2,2024-01-31,fax\n"


def messy_folder(make_folder):
    return make_folder(
        {
            "customers.csv": MESSY_CUSTOMERS,
            "invoices.csv": MESSY_INVOICES,
            "payments.csv": MESSY_PAYMENTS,
            "reminders.csv": MESSY_REMINDERS,
        }
    )


def test_nothing_is_lost_in_any_table(make_folder, tmp_path):
    ds = load_dataset(messy_folder(make_folder), enforce_limit=False)
    assert_nothing_lost(ds)
    assert ds.report.rows_in == {"customers": 4, "invoices": 6, "payments": 2, "reminders": 2}
    assert ds.report.quarantined == {"customers": 2, "invoices": 4, "payments": 1, "reminders": 1}
    assert ds.report.reasons["invoices:unparseable_date:invoice_date"] == 1
    assert ds.report.reasons["reminders:unknown_channel"] == 1


def test_every_reason_code_is_documented(make_folder):
    ds = load_dataset(messy_folder(make_folder), enforce_limit=False)
    for key in ds.report.reasons:
        code = key.split(":", 1)[1]
        generic = code.split(":")[0] + ":<col>" if ":" in code else code
        assert generic in REASONS, key


def test_bad_share_limit_raises_with_share_reasons_and_file(make_folder, tmp_path):
    qdir = tmp_path / "quarantine"
    with pytest.raises(ContractError) as exc:
        load_dataset(messy_folder(make_folder), quarantine_dir=qdir, max_bad_share=0.05)
    msg = str(exc.value)
    assert msg.startswith("invoices: 66.7% of rows quarantined (limit 5.0%); top reasons: ")
    assert "unknown_customer (1)" in msg
    assert str(qdir / "invoices.csv") in msg
    assert exc.value.report is not None and exc.value.report.bad_share() == pytest.approx(4 / 6)
    # the quarantine is written before the run stops, so the user can look at it
    assert (qdir / "invoices.csv").is_file() and (qdir / "report.json").is_file()


def test_bad_share_at_or_below_the_limit_passes(make_folder):
    ds = load_dataset(messy_folder(make_folder), max_bad_share=4 / 6)
    assert ds.report.bad_share("invoices") == pytest.approx(4 / 6)
    with pytest.raises(ContractError, match="no quarantine file"):
        load_dataset(messy_folder(make_folder), max_bad_share=0.5)


def test_quarantine_file_keeps_original_values_row_and_reason(make_folder, tmp_path):
    qdir = tmp_path / "q"
    ds = load_dataset(messy_folder(make_folder), quarantine_dir=qdir, enforce_limit=False)
    q = pd.read_csv(qdir / "invoices.csv", dtype=str, keep_default_na=False)
    assert list(q.columns[:2]) == ["_row", "_reason"]
    row = q.set_index("invoice_id").loc["I4"]
    assert row["_row"] == "5"
    assert row["_reason"] == "unparseable_date:invoice_date"
    assert row["invoice_date"] == "05/01/2024"
    assert row["amount"] == "10"
    dup = q[q["invoice_id"] == "I1"].iloc[0]
    assert (dup["_row"], dup["_reason"]) == ("6", "duplicate_invoice_id")
    cq = pd.read_csv(qdir / "customers.csv", dtype=str, keep_default_na=False)
    assert cq["_reason"].tolist() == ["duplicate_customer_id", "unknown_customer_type"]
    assert cq["name"].tolist() == ["Dup Name", ""]
    report = json.loads((qdir / "report.json").read_text())
    assert report["quarantined"] == ds.report.quarantined
    assert report["quarantine_files"]["invoices"] == str(qdir / "invoices.csv")
    assert report["bad_share"]["invoices"] == pytest.approx(4 / 6, abs=1e-6)


def test_clean_folder_gives_zero_quarantine_and_removes_stale_files(make_folder, tmp_path):
    qdir = tmp_path / "q"
    load_dataset(messy_folder(make_folder), quarantine_dir=qdir, enforce_limit=False)
    assert (qdir / "invoices.csv").exists()
    folder = make_folder({"customers.csv": CUSTOMERS_CSV, "invoices.csv": INVOICES_CSV})
    ds = load_dataset(folder, quarantine_dir=qdir)
    assert sum(ds.report.quarantined.values()) == 0
    assert ds.report.reasons == {} and ds.quarantine == {}
    assert ds.report.quarantine_files == {}
    assert sorted(p.name for p in qdir.iterdir()) == ["report.json"]


def test_output_columns_and_dtypes(make_folder):
    ds = load_dataset(make_folder({"customers.csv": CUSTOMERS_CSV, "invoices.csv": INVOICES_CSV}))
    assert tuple(ds.customers.columns) == (*CUSTOMER_COLUMNS, "email", "name")
    assert tuple(ds.invoices.columns) == INVOICE_COLUMNS
    inv = ds.invoices
    for col in ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date"):
        assert inv[col].dtype == "datetime64[us]", col
    assert inv["amount"].dtype == np.float64 and inv["paid_amount"].dtype == np.float64
    assert inv["disputed"].dtype == bool
    assert pd.api.types.is_string_dtype(inv["invoice_id"])
    assert inv["paid_date"].isna().tolist() == [False, True]
    assert inv["currency"].tolist() == ["EUR", "EUR"]
    assert isinstance(inv.index, pd.RangeIndex)


def test_absent_optional_tables_are_empty_frames_with_columns(make_folder):
    ds = load_dataset(make_folder({"invoices.csv": INVOICES_CSV}))
    assert tuple(ds.payments.columns) == PAYMENT_COLUMNS and len(ds.payments) == 0
    assert tuple(ds.reminders.columns) == REMINDER_COLUMNS and len(ds.reminders) == 0
    assert ds.payments["payment_date"].dtype == "datetime64[us]"
    assert ds.payments["amount"].dtype == np.float64
    assert ds.reminders["sent_date"].dtype == "datetime64[us]"
    assert ds.report.rows_in["payments"] == 0


def test_parquet_input_with_typed_columns(make_folder):
    inv = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "customer_id": ["C1", "C2", "C1"],
            "invoice_date": pd.to_datetime(["2024-01-05", "2024-01-10", "2024-01-05"]),
            "due_date": pd.to_datetime(["2024-02-04", "2024-01-24", "2024-01-01"]),
            "amount": [100.0, 250.5, 10.0],
            "paid_date": pd.to_datetime(["2024-02-01", None, None]),
            "disputed": [False, True, False],
        }
    )
    cust = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "payment_terms_days": [30, 14],
            "customer_type": pd.Categorical(["company", "individual"]),
        }
    )
    folder = make_folder({})
    inv.to_parquet(folder / "invoices.parquet")
    cust.to_parquet(folder / "customers.parquet")
    ds = load_dataset(folder, enforce_limit=False)
    assert ds.invoices["invoice_id"].tolist() == ["I1", "I2"]
    assert ds.invoices["disputed"].tolist() == [False, True]
    assert ds.invoices["paid_date"].iloc[0] == pd.Timestamp("2024-02-01")
    assert ds.customers["payment_terms_days"].tolist() == [30.0, 14.0]
    q = ds.quarantine["invoices"]
    assert (q["invoice_id"].tolist(), q["_reason"].tolist()) == (["I3"], ["due_before_invoice"])
    assert q["_row"].tolist() == [3]
    assert_nothing_lost(ds)


def test_parquet_and_csv_give_the_same_tables(make_folder):
    csv_ds = load_dataset(
        make_folder({"customers.csv": CUSTOMERS_CSV, "invoices.csv": INVOICES_CSV})
    )
    folder = make_folder({})
    csv_ds.invoices.to_parquet(folder / "invoices.parquet")
    csv_ds.customers.to_parquet(folder / "customers.parquet")
    pq_ds = load_dataset(folder)
    pd.testing.assert_frame_equal(pq_ds.invoices, csv_ds.invoices)
    pd.testing.assert_frame_equal(pq_ds.customers, csv_ds.customers)


def test_validate_frames_on_json_like_records():
    invoices = pd.DataFrame.from_records(
        [
            {
                "invoice_id": 1,
                "customer_id": "C1",
                "invoice_date": "2024-01-05",
                "due_date": "2024-02-04",
                "amount": 100,
                "paid_date": None,
                "disputed": True,
            },
            {
                "invoice_id": 2,
                "customer_id": "C1",
                "invoice_date": "2024-01-05",
                "due_date": "2024-02-04",
                "amount": "oops",
                "paid_date": None,
                "disputed": None,
            },
        ]
    )
    tables, quarantine, report = validate_frames({"invoices": invoices}, default_currency="pln")
    assert tables["invoices"]["invoice_id"].tolist() == ["1"]
    assert tables["invoices"]["currency"].tolist() == ["PLN"]
    assert tables["invoices"]["disputed"].tolist() == [True]
    assert quarantine["invoices"]["_reason"].tolist() == ["unparseable_number:amount"]
    assert quarantine["invoices"]["_row"].tolist() == [2]
    assert report.derived["customers"] == 1 and len(tables["customers"]) == 1
    assert set(tables) == {"customers", "invoices", "payments", "reminders"}


def test_validate_frames_requires_invoices():
    with pytest.raises(ContractError, match="invoices table is absent"):
        validate_frames({"customers": pd.DataFrame({"customer_id": ["C1"]})})
    with pytest.raises(ContractError, match="missing required column"):
        validate_frames({"invoices": pd.DataFrame({"invoice_id": ["I1"]})})


def test_validate_frames_does_not_modify_its_input():
    frame = pd.DataFrame(
        {
            "Invoice_ID": ["I1"],
            "customer_id": ["C1"],
            "invoice_date": ["2024-01-05"],
            "due_date": ["2024-02-04"],
            "amount": ["10"],
        }
    )
    before = frame.copy()
    validate_frames({"invoices": frame})
    pd.testing.assert_frame_equal(frame, before)


def test_pii_is_never_logged(make_folder, caplog):
    caplog.set_level(logging.DEBUG, logger="payer_model")
    load_dataset(messy_folder(make_folder), enforce_limit=False)
    assert caplog.records, "counts should be logged"
    text = caplog.text
    for secret in ("Alpha GmbH", "alpha@example.com", "Bob Nowak", "Dup Name", "dup@example.com"):
        assert secret not in text


def test_bad_arguments():
    frame = pd.read_csv(io.StringIO(INVOICES_CSV), dtype=str)
    with pytest.raises(ValueError, match="three-letter"):
        validate_frames({"invoices": frame}, default_currency="euro")
    with pytest.raises(ValueError, match="max_bad_share"):
        load_dataset(".", max_bad_share=5)
