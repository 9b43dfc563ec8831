"""File-level behaviour of the contract loader: folders, formats, encodings, delimiters."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest
from contract_helpers import CUSTOMERS_CSV, INVOICE_HEADER, INVOICES_CSV, assert_nothing_lost, ids

from payer_model.data.contract import ContractError, load_dataset, read_table


def test_missing_folder_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match="data folder not found"):
        load_dataset(tmp_path / "nope")


def test_folder_without_invoices_file_names_what_it_found(make_folder):
    folder = make_folder({"customers.csv": CUSTOMERS_CSV})
    with pytest.raises(ContractError, match=r"no invoices file.*found: customers\.csv"):
        load_dataset(folder)


def test_missing_required_column_names_it_and_lists_found_columns(make_folder):
    text = "invoice_id,customer_id,invoice_date,amount\nI1,C1,2024-01-05,10\n"
    folder = make_folder({"invoices.csv": text})
    with pytest.raises(ContractError) as exc:
        load_dataset(folder)
    msg = str(exc.value)
    assert "invoices.csv" in msg
    assert "missing required column(s) due_date" in msg
    assert "found: invoice_id, customer_id, invoice_date, amount" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("content", ["", INVOICE_HEADER, INVOICE_HEADER + "\n\n"])
def test_empty_invoices_file_is_a_contract_error(make_folder, content):
    folder = make_folder({"invoices.csv": content, "customers.csv": CUSTOMERS_CSV})
    with pytest.raises(ContractError, match=r"invoices\.csv.*empty"):
        load_dataset(folder)


def test_duplicate_header_is_a_contract_error(make_folder):
    text = "invoice_id,customer_id,invoice_date,due_date,amount,Amount\nI1,C1,2024-01-05,x,1,2\n"
    with pytest.raises(ContractError, match="'amount' appears more than once"):
        load_dataset(make_folder({"invoices.csv": text}))


def test_unreadable_parquet_is_a_contract_error(make_folder):
    folder = make_folder({"invoices.parquet": b"this is not parquet"})
    with pytest.raises(ContractError, match=r"invoices\.parquet: unreadable"):
        load_dataset(folder)


@pytest.mark.parametrize("customers", [None, "", "customer_id,customer_type\n"])
def test_absent_or_empty_customers_are_derived_from_invoices(load, customers):
    ds = load(customers=customers)
    assert sorted(ds.customers["customer_id"]) == ["C1", "C2"]
    assert set(ds.customers["customer_type"]) == {"company"}
    assert set(ds.customers["industry"]) == {"unknown"}
    assert ds.customers["credit_limit"].isna().all()
    assert ds.report.derived["customers"] == 2
    assert any("derived 2 customers from invoices" in n for n in ds.report.notes)
    assert_nothing_lost(ds)


def test_semicolon_latin1_file_with_decimal_comma(make_folder):
    customers = (
        "Customer_ID;Customer_Type;Industry;Country;Payment_Terms_Days;Credit_Limit\n"
        "C1;company;Bäckerei;DE;30;10.000,00\n"
        "C2;Individual;Café;AT;14;2.500\n"
    ).encode("latin-1")
    invoices = (
        " Invoice_ID ; Customer_ID ;Invoice_Date;Due_Date;Amount\n"
        "I1;C1;2024-01-05;2024-02-04;1.234,50\n"
        "I2;C2;2024-01-06;2024-02-05; 99,90 \n"
    ).encode("latin-1")
    ds = load_dataset(make_folder({"customers.csv": customers, "invoices.csv": invoices}))
    assert ds.report.quarantined == {"customers": 0, "invoices": 0, "payments": 0, "reminders": 0}
    cust = ds.customers.set_index("customer_id")
    assert cust.loc["C1", "industry"] == "Bäckerei"
    assert cust.loc["C2", "industry"] == "Café"
    assert cust.loc["C2", "customer_type"] == "individual"
    # "2.500" alone is ambiguous; "10.000,00" in the same table shows the decimal comma.
    assert cust["credit_limit"].tolist() == [10000.0, 2500.0]
    assert ds.invoices["amount"].tolist() == [1234.5, 99.9]
    notes = " | ".join(ds.report.notes)
    assert "latin-1" in notes
    assert "delimiter ';'" in notes
    assert "decimal comma" in notes


@pytest.mark.parametrize("delim", ["\t", "|", ";", ","])
def test_delimiter_is_sniffed(make_folder, delim):
    text = INVOICES_CSV.replace(",", delim)
    ds = load_dataset(make_folder({"invoices.csv": text}))
    assert ds.invoices["invoice_id"].tolist() == ["I1", "I2"]
    assert ds.invoices["amount"].tolist() == [100.0, 250.5]


def test_utf8_bom_and_crlf_line_endings(make_folder):
    raw = ("\ufeff" + INVOICES_CSV).replace("\n", "\r\n").encode("utf-8")
    ds = load_dataset(make_folder({"invoices.csv": raw}))
    assert list(ds.invoices["invoice_id"]) == ["I1", "I2"]
    assert not ds.report.notes or "latin-1" not in " ".join(ds.report.notes)


def test_gzipped_csv(make_folder):
    folder = make_folder({"invoices.csv.gz": gzip.compress(INVOICES_CSV.encode())})
    assert load_dataset(folder).report.rows_out["invoices"] == 2


def test_xlsx_first_sheet(make_folder, tmp_path):
    pytest.importorskip("openpyxl")
    frame = pd.read_csv(io.StringIO(INVOICES_CSV), dtype=str, keep_default_na=False)
    folder = make_folder({})
    frame.to_excel(folder / "invoices.xlsx", index=False)
    ds = load_dataset(folder)
    assert ds.invoices["amount"].tolist() == [100.0, 250.5]
    assert ds.invoices["due_date"].tolist() == [
        pd.Timestamp("2024-02-04"),
        pd.Timestamp("2024-01-24"),
    ]


def test_truth_file_is_ignored_with_a_note(make_folder):
    folder = make_folder({"invoices.csv": INVOICES_CSV, "truth.csv": "customer_id,label\n"})
    ds = load_dataset(folder)
    assert any(n.startswith("truth.csv ignored") for n in ds.report.notes)


def test_parquet_wins_over_csv_with_a_note(make_folder):
    folder = make_folder({"invoices.csv": INVOICE_HEADER + "X,C1,bad,bad,bad,\n"})
    frame = pd.read_csv(io.StringIO(INVOICES_CSV), dtype=str, keep_default_na=False)
    frame.to_parquet(folder / "invoices.parquet")
    ds = load_dataset(folder)
    assert ds.report.quarantined["invoices"] == 0
    assert any("using invoices.parquet, ignoring invoices.csv" in n for n in ds.report.notes)


def test_read_table_gives_strings_and_line_numbers(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text('Invoice_ID , Note\n\nI1,"two\nlines"\n  I2  ,  007  \n', encoding="utf-8")
    frame, notes = read_table(path)
    assert list(frame.columns[:2]) == ["invoice_id", "note"]
    assert frame["invoice_id"].tolist() == ["I1", "I2"]
    assert frame["note"].tolist() == ["two\nlines", "007"]  # strings: no number guessing
    assert frame["_row"].tolist() == [3, 5]  # blank line 2 skipped, record 3 spans 2 lines
    assert any("blank line" in n for n in notes)


def test_wrong_field_count_is_quarantined_not_fatal(load):
    text = INVOICES_CSV + "I3,C1,2024-01-05,2024-02-04\nI4,C1,2024-01-05,2024-02-04,5,,extra\n"
    ds = load(invoices=text)
    q = ds.quarantine["invoices"].set_index("invoice_id")
    assert q.loc["I3", "_reason"].startswith("wrong_field_count")
    assert q.loc["I4", "_reason"] == "wrong_field_count"
    assert q.loc["I4", "_extra"] == "extra"
    assert ids(ds.invoices) == ["I1", "I2"]
    assert_nothing_lost(ds)


def test_trailing_delimiter_column_is_dropped(make_folder):
    text = INVOICES_CSV.replace("\n", ",\n")
    ds = load_dataset(make_folder({"invoices.csv": text}))
    assert ds.report.quarantined["invoices"] == 0
    assert any("empty column" in n for n in ds.report.notes)


def test_quarantine_dir_must_not_be_the_data_folder(make_folder):
    folder = make_folder({"invoices.csv": INVOICES_CSV})
    with pytest.raises(ContractError, match="must not be the data folder"):
        load_dataset(folder, quarantine_dir=folder)
