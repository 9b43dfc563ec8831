"""Issue 19 in files: absurd dates and amounts quarantined by the one rule, a payment of a
rejected invoice quarantined (not a TypeError), an import of duplicate rows said so."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from payer_model.cli import app
from payer_model.config import plausible_date_window
from payer_model.data.parsing import ImplausibleDateError, check_plausible_date

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "import"


def _folder(tmp_path: Path, bad_invoice: str, payment_of_bad: bool = True) -> Path:
    rows = ["invoice_id,customer_id,invoice_date,due_date,amount,paid_date,paid_amount"]
    rows += [f"I{i},C1,2025-01-01,2025-02-01,100,," for i in range(60)]
    rows.append(bad_invoice)
    (tmp_path / "invoices.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "customers.csv").write_text("customer_id,customer_type\nC1,company\n")
    pays = ["payment_id,invoice_id,customer_id,payment_date,amount", "P2,I1,C1,2025-01-10,50"]
    if payment_of_bad:
        pays.append("P1,IX,C1,2025-01-10,50")
    (tmp_path / "payments.csv").write_text("\n".join(pays) + "\n")
    (tmp_path / "reminders.csv").write_text(
        "invoice_id,customer_id,sent_date,channel\nIX,C1,2025-01-05,email\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("IX,C1,2025-01-01,2025-02-01,0,,", "zero_amount"),
        ("IX,C1,2025-01-01,2024-02-01,100,,", "due_before_invoice"),
        ("IX,C1,2025-01-01,9999-12-31,100,,", "date_out_of_range:due_date"),
        ("IX,C1,0001-01-01,2025-02-01,100,,", "date_out_of_range:invoice_date"),
        ("IX,C1,2025-01-01,2025-02-01,4e38,,", "amount_out_of_range"),
        ("IX,C1,2025-01-01,2025-02-01,100,2025-01-20,4e38", "amount_out_of_range"),
    ],
)
def test_rejected_invoice_and_its_payment_are_quarantined_by_the_cli(tmp_path, row, reason):
    (tmp_path / "data").mkdir()
    data = _folder(tmp_path / "data", row)
    q = tmp_path / "q"
    res = runner.invoke(app, ["validate", str(data), "--quarantine", str(q)])
    assert res.exit_code == 0, res.output
    inv = pd.read_csv(q / "invoices.csv", dtype=str)
    assert inv["_reason"].tolist() == [reason]
    pay = pd.read_csv(q / "payments.csv", dtype=str)
    assert pay["payment_id"].tolist() == ["P1"] and pay["_reason"].tolist() == ["unknown_invoice"]


def test_one_plausible_date_rule():
    lo, hi = plausible_date_window(date(2026, 11, 30))
    assert lo == date(1990, 1, 1) and hi == date(2027, 12, 1)
    check_plausible_date(date(2026, 11, 30), "as_of")
    check_plausible_date(None, "paid_date")
    with pytest.raises(ImplausibleDateError, match="as_of: 9999-12-31"):
        check_plausible_date(date(9999, 12, 31), "as_of")


def test_import_of_only_duplicate_rows_says_so(tmp_path):
    src = tmp_path / "dups.csv"
    lines = (FIXTURES / "generic_ar_invoices.csv").read_text().splitlines()
    src.write_text("\n".join([lines[0]] + [lines[1]] * 500) + "\n")
    res = runner.invoke(
        app, ["import", str(src), "--preset", "generic-ar", "--out", str(tmp_path / "out")]
    )
    assert "499 of the 500 invoices rows are exact duplicates" in " ".join(res.output.split())
