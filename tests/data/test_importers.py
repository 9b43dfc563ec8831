"""Importers: presets, mappings, robustness and import -> validate -> train per preset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import payer_model.cli.data  # noqa: F401 - registers the import command
from payer_model.cli import app
from payer_model.data.contract import load_dataset
from payer_model.data.importers import MappingError, import_export
from payer_model.data.mapping import PRESETS, Mapping, load_mapping, load_preset

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def basic_mapping(**over) -> dict:
    cols = {
        "invoice_id": "Doc",
        "customer_id": "Cust",
        "invoice_date": "Posted",
        "due_date": "Due",
        "amount": "Amt",
    }
    cols.update(over)
    return {"invoices": {"columns": cols}}


def run_import(tmp_path: Path, csv: str, mapping: dict | str, name: str = "src.csv"):
    src = write(tmp_path / "in" / name, csv)
    mp = Mapping.model_validate(mapping) if isinstance(mapping, dict) else mapping
    out = tmp_path / "out"
    return import_export(src, mp, out), out


# --------------------------------------------------------------------- hand-written fixtures


def test_ibm_fixture_keeps_padded_ids_and_reads_mdy(tmp_path):
    raw = (FIXTURES / "ibm_ar_sample.csv").read_bytes()
    assert b"\r\n" in raw  # the public file's CRLF line endings
    rep = import_export(FIXTURES / "ibm_ar_sample.csv", "ibm-ar", tmp_path / "out")
    assert rep.rows_in["invoices"] == 12
    assert rep.duplicates["invoices"] == 1
    assert rep.rows_out["invoices"] == 11
    assert rep.quarantined["invoices"] == 0
    ds = load_dataset(tmp_path / "out")
    inv = ds.invoices.set_index("invoice_id")
    assert "0000611365" in inv.index  # zero padding kept: ids stay strings
    assert inv.loc["0000611365", "invoice_date"] == pd.Timestamp("2013-01-02")
    assert inv.loc["0007900770", "paid_date"] == pd.Timestamp("2013-03-03")
    assert bool(inv.loc["0007900770", "disputed"]) is True
    assert inv["paid_date"].notna().all()  # every IBM invoice is settled
    assert set(ds.customers["country"]) == {"391", "406", "818", "897", "770"}
    # no false "paid date differs" note: DaysLate is 0 for early payers
    assert not any("differs" in n for n in rep.notes)
    assert sum(ds.report.quarantined.values()) == 0


def test_erp_fixture_quirks(tmp_path):
    rep = import_export(FIXTURES / "sap_fbl5n_items.csv", "erp-line-items", tmp_path / "out")
    assert rep.rows_in["invoices"] == 11
    assert rep.duplicates["invoices"] == 1
    assert rep.reasons == {
        "invoices:unparseable_date:invoice_date": 1,  # 2024022 (7 digits)
        "invoices:paid_before_invoice": 1,
        "invoices:closed_without_paid_date": 1,  # no XOPEN and no AUGDT
    }
    assert rep.rows_out["invoices"] == 7
    inv = load_dataset(tmp_path / "out").invoices.set_index("invoice_id")
    assert inv.loc["1800000012", "amount"] == 1250.0  # decimal comma, dot thousands
    assert inv.loc["1800000015", "amount"] == -310.0  # SHKZG = H: credit
    assert inv.loc["1800000018", "amount"] == -760.0  # SAP trailing minus
    assert inv.loc["1800000016", "invoice_date"] == pd.Timestamp("2024-02-01")  # 20240201.0
    assert inv.loc["1800000016", "due_date"] == pd.Timestamp("2024-03-02")  # ZFBDT + ZB30
    assert pd.isna(inv.loc["1800000013", "paid_date"])  # open item
    assert inv.loc["1800000016", "currency"] == "USD"
    assert any("2 currencies" in n for n in rep.notes)
    q = pd.read_csv(rep.files["quarantine_invoices"], dtype=str, sep=",")
    assert {"_row", "_reason", "_stage", "belnr"} <= set(q.columns)
    assert "2024022" in set(q["budat"])  # the original value, as written


def test_generic_fixture(tmp_path):
    rep = import_export(FIXTURES / "generic_ar_invoices.csv", "generic-ar", tmp_path / "out")
    assert rep.duplicates["invoices"] == 1
    assert rep.reasons == {"invoices:closed_without_paid_date": 1}  # Paid, no paid date
    ds = load_dataset(tmp_path / "out")
    inv = ds.invoices.set_index("invoice_id")
    assert inv.loc["INV-1003", "amount"] == 12000.5
    assert pd.isna(inv.loc["INV-1003", "paid_date"])
    assert inv.loc["INV-1009", "currency"] == "EUR"  # empty => default currency
    assert inv.loc["INV-1004", "document_type"] == "credit_note"
    assert set(ds.customers["customer_id"]) == {"ACME", "BOLT", "CRANE", "DELTA", "ECHO"}
    report = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert report["rows_in"]["invoices"] == 10


def test_presets_listed_and_valid():
    for name in PRESETS:
        assert load_preset(name).invoices.columns
    with pytest.raises(MappingError, match="unknown preset 'sap'"):
        load_preset("sap")


# ------------------------------------------------------------------------------ robustness

BASIC = """Doc,Cust,Posted,Due,Amt,Paid
A1,C1,{d1},2024-02-01,100,2024-02-03
A2,C1,{d2},2024-02-15,200,
A3,C2,{d3},2024-03-01,300,2024-03-05
"""


@pytest.mark.parametrize(
    ("fmt", "dates"),
    [
        (None, ("2024-01-02", "2024-01-16", "2024-01-31")),
        (None, ("02.01.2024", "16.01.2024", "31.01.2024")),
        (None, ("1/2/2024", "1/16/2024", "1/31/2024")),
        (None, ("20240102", "20240116", "20240131")),
        (None, ("20240102.0", "20240116.0", "20240131.0")),
        (None, ("45293", "45307", "45322")),  # Excel serials
        ("%d/%m/%Y", ("02/01/2024", "16/01/2024", "31/01/2024")),
        (
            "%Y-%m-%d %H:%M:%S",
            ("2024-01-02 00:00:00", "2024-01-16 10:00:00", "2024-01-31 23:59:59"),
        ),
        ("yyyymmdd", ("20240102", "20240116.0", "20240131")),
        ("excel", ("45293", "45307.0", "45322.5")),
    ],
)
def test_date_formats(tmp_path, fmt, dates):
    posted = "Posted" if fmt is None else {"column": "Posted", "format": fmt}
    mapping = basic_mapping(invoice_date=posted, paid_date="Paid")
    d1, d2, d3 = dates
    rep, out = run_import(tmp_path, BASIC.format(d1=d1, d2=d2, d3=d3), mapping)
    assert rep.quarantined["invoices"] == 0, rep.lines()
    inv = load_dataset(out).invoices
    assert list(inv["invoice_date"]) == [
        pd.Timestamp(x) for x in ("2024-01-02", "2024-01-16", "2024-01-31")
    ]
    assert inv["paid_date"].isna().sum() == 1


def test_ambiguous_day_month_asks_for_a_format(tmp_path):
    csv = BASIC.format(d1="1/2/2024", d2="2/3/2024", d3="3/4/2024")
    with pytest.raises(
        MappingError, match=r"invoices.invoice_date .*'Posted'|posted.*set a format"
    ):
        run_import(tmp_path, csv, basic_mapping())


def test_bad_date_format_names_column_format_and_sample(tmp_path):
    csv = BASIC.format(d1="2024-01-02", d2="2024-01-16", d3="2024-01-31")
    mapping = basic_mapping(invoice_date={"column": "Posted", "format": "%d.%m.%Y"})
    with pytest.raises(MappingError) as exc:
        run_import(tmp_path, csv, mapping)
    msg = str(exc.value)
    assert "invoices.invoice_date" in msg and "'posted'" in msg
    assert "%d.%m.%Y" in msg and "'2024-01-02'" in msg
    assert "\n" not in msg


def test_isolated_bad_date_is_quarantined(tmp_path):
    csv = BASIC.format(d1="02.01.2024", d2="16.01.2024", d3="31.13.2024")
    rep, _ = run_import(
        tmp_path, csv, basic_mapping(invoice_date={"column": "Posted", "format": "%d.%m.%Y"})
    )
    assert rep.reasons == {"invoices:unparseable_date:invoice_date": 1}
    assert rep.rows_out["invoices"] == 2


def test_wrong_column_name_lists_available(tmp_path):
    csv = BASIC.format(d1="2024-01-02", d2="2024-01-16", d3="2024-01-31")
    with pytest.raises(MappingError) as exc:
        run_import(tmp_path, csv, basic_mapping(amount="Amount"))
    msg = str(exc.value)
    assert "invoices.amount" in msg and "'Amount' not found" in msg
    assert "available columns: doc, cust, posted, due, amt, paid" in msg


def test_thousands_and_decimal_comma(tmp_path):
    csv = (
        "Doc;Cust;Posted;Due;Amt\n"
        "A1;C1;2024-01-02;2024-02-01;1.234,50\n"
        "A2;C1;2024-01-03;2024-02-01;12.000\n"
        "A3;C1;2024-01-04;2024-02-01;99,9\n"
        "A4;C1;2024-01-05;2024-02-01;1.000.000,01-\n"
    )
    spec = {"column": "Amt", "decimal": ",", "thousands": "."}
    rep, out = run_import(tmp_path, csv, basic_mapping(amount=spec))
    amounts = load_dataset(out).invoices["amount"].tolist()
    assert amounts == [1234.5, 12000.0, 99.9, -1000000.01]
    assert rep.notes and any("credit notes" in n for n in rep.notes)


def test_duplicates_currencies_credit_notes_paid_before(tmp_path):
    csv = (
        "Doc,Cust,Posted,Due,Amt,Cur,Paid\n"
        "A1,C1,2024-01-02,2024-02-01,100,EUR,2024-02-01\n"
        "A1,C1,2024-01-02,2024-02-01,100,EUR,2024-02-01\n"
        "A2,C1,2024-01-05,2024-02-01,-40,EUR,\n"
        "A3,C2,2024-01-05,2024-02-01,50,USD,2023-12-30\n"
        "A4,C2,2024-01-06,2024-02-01,70,CHF,\n"
    )
    mapping = basic_mapping(currency="Cur", paid_date="Paid")
    mapping["invoices"]["dedupe"] = True
    rep, out = run_import(tmp_path, csv, mapping)
    assert rep.duplicates["invoices"] == 1
    assert rep.reasons == {"invoices:paid_before_invoice": 1}
    assert rep.rows_in["invoices"] == rep.rows_out["invoices"] + 2
    lines = "\n".join(rep.lines())
    assert "1 duplicates" in lines and "quarantined invoices:paid_before_invoice: 1" in lines
    assert "2 currencies (EUR 2, CHF 1)" in lines and "1 credit notes" in lines
    assert load_dataset(out).report.quarantined["invoices"] == 0


def test_duplicates_without_dedupe_are_duplicate_ids(tmp_path):
    csv = "Doc,Cust,Posted,Due,Amt\nA1,C1,2024-01-02,2024-02-01,1\nA1,C1,2024-01-02,2024-02-01,1\n"
    rep, _ = run_import(tmp_path, csv, basic_mapping())
    assert rep.reasons == {"invoices:duplicate_invoice_id": 1}


def test_messy_rows_each_get_a_reason(tmp_path):
    csv = (
        "Doc,Cust,Posted,Due,Amt\n"
        ",C1,2024-01-02,2024-02-01,x\n"
        "A2,,2024-01-02,2023-12-01,0\n"
        "A3,C3,,2024-02-01,5\n"
        "A4,C4,2024-01-02,2024-02-01,5,extra\n"
        "A5,C5,2024-01-02,2024-02-01,5\n"
    )
    rep, out = run_import(tmp_path, csv, basic_mapping())
    assert rep.rows_out["invoices"] == 1 and rep.quarantined["invoices"] == 4
    assert rep.reasons["invoices:wrong_field_count"] == 1
    assert rep.reasons["invoices:due_before_invoice"] == 1
    assert rep.reasons["invoices:missing_value:invoice_date"] == 1
    q = pd.read_csv(rep.files["quarantine_invoices"], dtype=str, keep_default_na=False)
    assert list(q["_row"]) == ["2", "3", "4", "5"]
    assert q.loc[q["_row"] == "5", "_extra"].item() == "extra"
    assert load_dataset(out).invoices["invoice_id"].tolist() == ["A5"]


def test_header_only_export_is_a_one_line_error(tmp_path):
    with pytest.raises(MappingError, match="no data rows"):
        run_import(tmp_path, "Doc,Cust,Posted,Due,Amt\n", basic_mapping())


def test_customers_in_invoices_only_are_added(tmp_path):
    write(tmp_path / "in" / "cust.csv", "No,Name,Land\nC1,Alpha,DE\n")
    csv = BASIC.format(d1="2024-01-02", d2="2024-01-16", d3="2024-01-31")
    mapping = basic_mapping()
    mapping["customers"] = {
        "file": "cust.csv",
        "columns": {"customer_id": "No", "name": "Name", "country": "Land"},
    }
    rep, out = run_import(tmp_path, csv, mapping)
    assert any("1 customers present in invoices only" in n for n in rep.notes)
    ds = load_dataset(out)
    assert set(ds.customers["customer_id"]) == {"C1", "C2"}
    assert ds.report.quarantined["invoices"] == 0


def test_open_flag_and_days_late_reconstruction(tmp_path):
    csv = (
        "Doc,Cust,Posted,Due,Amt,Late,Open\n"
        "A1,C1,2024-01-02,2024-02-01,100,5,N\n"
        "A2,C1,2024-01-03,2024-02-02,100,,Y\n"
        "A3,C1,2024-01-04,2024-02-03,100,0,N\n"
    )
    mapping = basic_mapping(days_late="Late", open_flag={"column": "Open", "true_values": ["Y"]})
    rep, out = run_import(tmp_path, csv, mapping)
    inv = load_dataset(out).invoices.set_index("invoice_id")
    assert inv.loc["A1", "paid_date"] == pd.Timestamp("2024-02-06")
    assert pd.isna(inv.loc["A2", "paid_date"])
    assert inv.loc["A3", "paid_date"] == pd.Timestamp("2024-02-03")
    assert any("reconstructed as due date + days late" in n for n in rep.notes)


def test_days_to_settle_and_parquet_source(tmp_path):
    frame = pd.DataFrame(
        {
            "Doc": [1, 2],
            "Cust": ["C1", "C2"],
            "Posted": pd.to_datetime(["2024-01-02", "2024-01-05"]),
            "Due": [20240201.0, 20240204.0],
            "Amt": [10.5, 20.0],
            "Settle": [10, np.nan],
        }
    )
    src = tmp_path / "in" / "export.parquet"
    src.parent.mkdir()
    frame.to_parquet(src)
    mapping = Mapping.model_validate(basic_mapping(days_to_settle="Settle"))
    rep = import_export(src, mapping, tmp_path / "out")
    inv = load_dataset(tmp_path / "out").invoices.set_index("invoice_id")
    assert inv.loc["1", "paid_date"] == pd.Timestamp("2024-01-12")
    assert pd.isna(inv.loc["2", "paid_date"])
    assert inv.loc["2", "due_date"] == pd.Timestamp("2024-02-04")
    assert rep.quarantined["invoices"] == 0


def test_xlsx_source(tmp_path):
    frame = pd.DataFrame(
        {
            "Doc": ["A1", "A2"],
            "Cust": ["C1", "C2"],
            "Posted": ["02.01.2024", "05.01.2024"],
            "Due": [45323, 45326],
            "Amt": ["1.234,50", "10,00"],
        }
    )
    src = tmp_path / "export.xlsx"
    frame.to_excel(src, index=False)
    rep = import_export(src, Mapping.model_validate(basic_mapping()), tmp_path / "out")
    inv = load_dataset(tmp_path / "out").invoices
    assert inv["due_date"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-04")]
    assert inv["amount"].tolist() == [1234.5, 10.0]
    assert rep.quarantined["invoices"] == 0


def test_mapping_typos_fail_in_one_line(tmp_path):
    bad = basic_mapping()
    bad["invoices"]["dedup"] = True
    path = write(tmp_path / "m.yaml", yaml.safe_dump(bad))
    with pytest.raises(MappingError, match=r"invoices.dedup: unknown key"):
        load_mapping(path)
    bad = basic_mapping(amout="Amt")
    with pytest.raises(MappingError, match="unknown target column.*amout"):
        load_mapping(write(tmp_path / "m2.yaml", yaml.safe_dump(bad)))
    missing = basic_mapping()
    del missing["invoices"]["columns"]["due_date"]
    with pytest.raises(MappingError, match="required column.*due_date"):
        load_mapping(write(tmp_path / "m3.yaml", yaml.safe_dump(missing)))
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(write(tmp_path / "m4.yaml", "invoices: [\n"))


# ---------------------------------------------------------------------------------- CLI


def test_cli_import_prints_counts_and_reasons(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "import",
            str(FIXTURES / "sap_fbl5n_items.csv"),
            "--preset",
            "erp-line-items",
            "--out",
            str(out),
            "--max-bad-share",
            "0.5",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "invoices: 11 rows in, 7 out, 3 quarantined, 1 duplicates" in res.output
    assert "quarantined invoices:paid_before_invoice: 1" in res.output
    assert (out / "invoices.csv").is_file()


def test_cli_import_fails_over_the_bad_share(tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "import",
            str(FIXTURES / "sap_fbl5n_items.csv"),
            "--preset",
            "erp-line-items",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 2
    assert "of rows quarantined (limit 5.0%)" in res.output


def test_cli_import_mapping_error_is_one_line(tmp_path):
    mapping = write(tmp_path / "m.yaml", yaml.safe_dump(basic_mapping(amount="Amount")))
    res = CliRunner().invoke(
        app,
        [
            "import",
            str(FIXTURES / "generic_ar_invoices.csv"),
            "--mapping",
            str(mapping),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "'Cust' not found; available columns: invoice_number" in " ".join(res.output.split())
    res = CliRunner().invoke(
        app, ["import", str(FIXTURES / "generic_ar_invoices.csv"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "exactly one of --mapping FILE or --preset NAME" in res.output


# ------------------------------------------------------------- end to end per preset (slow)


def _dmy_us(d: pd.Series) -> pd.Series:
    return d.map(lambda x: "" if pd.isna(x) else f"{x.month}/{x.day}/{x.year}")


def _generated(seed: int) -> dict[str, pd.DataFrame]:
    from payer_model.data.generate import generate_dataset

    return generate_dataset(150, 24, seed=seed)


def write_ibm_layout(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """The IBM sample's layout: settled invoices only, due = invoice + 30, M/D/YYYY, CRLF."""
    inv = tables["invoices"]
    inv = inv[(inv["document_type"] == "invoice") & inv["paid_date"].notna()].copy()
    due = inv["invoice_date"] + pd.Timedelta(days=30)
    paid = (inv["paid_date"] - inv["due_date"] + due).clip(lower=inv["invoice_date"])
    cust = tables["customers"].set_index("customer_id")
    codes = {c: str(300 + 7 * i) for i, c in enumerate(sorted(cust["country"].unique()))}
    num = inv["customer_id"].str[1:].astype(int)
    out = pd.DataFrame(
        {
            "countryCode": inv["customer_id"].map(cust["country"]).map(codes),
            "customerID": num.map(lambda n: f"{n:04d}-{'ABCDEFGHIJ'[n % 10] * 5}"),
            "PaperlessDate": _dmy_us(inv["invoice_date"] - pd.Timedelta(days=400)),
            "invoiceNumber": inv["invoice_id"].str[3:].str.zfill(10),
            "InvoiceDate": _dmy_us(inv["invoice_date"]),
            "DueDate": _dmy_us(due),
            "InvoiceAmount": inv["amount"].round(2).astype(str),
            "Disputed": np.where(inv["disputed"], "Yes", "No"),
            "SettledDate": _dmy_us(paid),
            "PaperlessBill": np.where(num % 2 == 0, "Electronic", "Paper"),
            "DaysToSettle": (paid - inv["invoice_date"]).dt.days.astype(str),
            "DaysLate": (paid - due).dt.days.clip(lower=0).astype(str),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\r\n")
    return path


def _sap_amount(x: float) -> str:
    text = f"{abs(x):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return text + ("-" if x < 0 else "")


def write_erp_layout(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """SAP line items: ';', decimal comma, trailing minus, yyyymmdd ints and floats, XOPEN."""
    inv = tables["invoices"]
    ymd = lambda d: d.dt.strftime("%Y%m%d").where(d.notna(), "")  # noqa: E731
    terms = (inv["due_date"] - inv["invoice_date"]).dt.days
    num = inv["customer_id"].str[1:].astype(int)
    out = pd.DataFrame(
        {
            "BUKRS": np.where(num % 3 == 0, "2000", "1000"),
            "KUNNR": num.map(lambda n: f"{n:010d}"),
            "BELNR": inv["invoice_id"].str[3:].map(lambda s: "18" + s.zfill(8)),
            "GJAHR": inv["invoice_date"].dt.year.astype(str),
            "BUDAT": ymd(inv["invoice_date"]),
            "ZFBDT": ymd(inv["invoice_date"]),
            "ZTERM": "ZB" + terms.astype(str),
            "FAEDT": ymd(inv["due_date"]) + ".0",  # floats as some exports write them
            "AUGDT": ymd(inv["paid_date"]),
            "WRBTR": inv["amount"].map(_sap_amount),
            "WAERS": np.where(num % 10 == 0, "USD", "EUR"),
            "SHKZG": np.where(inv["amount"] < 0, "H", "S"),
            "XOPEN": np.where(inv["paid_date"].isna(), "X", ""),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, sep=";")
    return path


def write_generic_layout(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """A spreadsheet-like list: d/m/Y invoice dates, ISO due dates, Excel serial paid dates."""
    inv = tables["invoices"]
    cust = tables["customers"].set_index("customer_id")
    serial = (inv["paid_date"] - pd.Timestamp("1899-12-30")).dt.days
    out = pd.DataFrame(
        {
            "Invoice Number": inv["invoice_id"],
            "Customer": inv["customer_id"],
            "Customer Name": inv["customer_id"].map(cust["name"]),
            "Invoice Date": inv["invoice_date"].dt.strftime("%d/%m/%Y"),
            "Due Date": inv["due_date"].dt.strftime("%Y-%m-%d"),
            "Amount": inv["amount"].map(lambda x: f"{x:,.2f}"),
            "Currency": "EUR",
            "Status": np.where(inv["paid_date"].isna(), "Open", "Paid"),
            "Paid Date": serial.map(lambda s: "" if pd.isna(s) else str(int(s))),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)
    return path


LAYOUTS = {
    "ibm-ar": write_ibm_layout,
    "erp-line-items": write_erp_layout,
    "generic-ar": write_generic_layout,
}


@pytest.mark.slow
@pytest.mark.parametrize("preset", list(LAYOUTS))
def test_import_validate_features_labels_train(tmp_path, preset):
    from payer_model.config import TrainConfig
    from payer_model.features import build_features
    from payer_model.features.labels import data_range, label_snapshots
    from payer_model.jobs.train import fit_and_evaluate

    tables = _generated(seed=11)
    src = LAYOUTS[preset](tables, tmp_path / "export" / "export.csv")
    out = tmp_path / "data"
    res = CliRunner().invoke(
        app,
        [
            "import",
            str(src),
            "--preset",
            preset,
            "--out",
            str(out),
            "--json",
            str(tmp_path / "r.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["quarantined"]["invoices"] == 0, rep["reasons"]
    assert rep["rows_out"]["invoices"] == rep["rows_in"]["invoices"]

    ds = load_dataset(out)  # validate: the imported folder passes the contract as is
    assert sum(ds.report.quarantined.values()) == 0
    assert ds.customers["customer_id"].nunique() >= 140
    start, end = data_range(ds.invoices)
    feats = build_features(ds.invoices, end, customers=ds.customers)
    assert len(feats) >= 100
    cfg = TrainConfig()
    labels = label_snapshots(ds.invoices, [start + pd.DateOffset(months=12)], cfg.labels)
    assert set(labels["label"]) <= {"good", "average", "bad"} and len(labels) >= 100

    fit = fit_and_evaluate(ds.tables, cfg)
    model, rule = fit.metrics["model"], fit.metrics["baselines"]["rule"]
    assert model["n"] > 100
    assert 0.0 <= model["macro_f1"] <= 1.0 and 0.0 <= rule["macro_f1"] <= 1.0
    assert model["macro_f1"] > 0.4  # real signal survives the import
