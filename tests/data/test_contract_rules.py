"""Row rules: one test per reason code, with a good row beside each bad one."""

from __future__ import annotations

import pandas as pd
import pytest
from contract_helpers import (
    CUSTOMERS_CSV,
    GOOD_INVOICE_ROWS,
    INVOICE_HEADER,
    INVOICES_CSV,
    assert_nothing_lost,
    ids,
    reasons,
)


def with_row(row: str, header: str = INVOICE_HEADER) -> str:
    """The two good invoices plus one more row (I1/I2 stay valid in every test)."""
    return header + GOOD_INVOICE_ROWS + row + "\n"


def only_bad(ds, expected: dict[str, str], table: str = "invoices") -> None:
    assert reasons(ds, table) == expected
    assert_nothing_lost(ds)


# --------------------------------------------------------------------------- invoices


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",C1,2024-01-05,2024-02-04,10,", "missing_value:invoice_id"),
        ("I3,,2024-01-05,2024-02-04,10,", "missing_value:customer_id"),
        ("I3,C1,,2024-02-04,10,", "missing_value:invoice_date"),
        ("I3,C1,2024-01-05,,10,", "missing_value:due_date"),
        ("I3,C1,2024-01-05,2024-02-04,,", "missing_value:amount"),
    ],
)
def test_missing_required_value(load, row, reason):
    ds = load(invoices=with_row(row))
    assert list(ds.quarantine["invoices"]["_reason"]) == [reason]
    assert ids(ds.invoices) == ["I1", "I2"]
    assert_nothing_lost(ds)


def test_unknown_customer(load):
    ds = load(invoices=with_row("I3,C9,2024-01-05,2024-02-04,10,"))
    only_bad(ds, {"I3": "unknown_customer"})


def test_invoice_of_a_quarantined_customer_is_unknown_customer(load):
    customers = CUSTOMERS_CSV + "C3,alien,,,,,,\n"
    ds = load(customers=customers, invoices=with_row("I3,C3,2024-01-05,2024-02-04,10,"))
    only_bad(ds, {"C3": "unknown_customer_type"}, "customers")
    assert reasons(ds) == {"I3": "unknown_customer"}


def test_unknown_customer_never_fires_without_customers_table(load):
    ds = load(customers=None, invoices=with_row("I3,C9,2024-01-05,2024-02-04,10,"))
    assert ds.report.quarantined["invoices"] == 0
    assert "C9" in set(ds.customers["customer_id"])


def test_zero_amount(load):
    only_bad(load(invoices=with_row("I3,C1,2024-01-05,2024-02-04,0.00,")), {"I3": "zero_amount"})


def test_negative_amount_on_an_explicit_invoice(load):
    header = INVOICE_HEADER.replace("\n", ",document_type\n")
    text = (
        header
        + "I1,C1,2024-01-05,2024-02-04,100,,invoice\nI2,C1,2024-01-05,2024-02-04,-5,,Invoice\n"
    )
    only_bad(load(invoices=text), {"I2": "negative_amount_on_invoice"})


def test_positive_amount_on_credit_note(load):
    header = INVOICE_HEADER.replace("\n", ",document_type\n")
    text = (
        header + "I1,C1,2024-01-05,2024-02-04,-100,,Credit Note\n"
        "I2,C1,2024-01-05,2024-02-04,5,,credit_note\n"
    )
    ds = load(invoices=text)
    only_bad(ds, {"I2": "positive_amount_on_credit_note"})
    assert ds.invoices["document_type"].tolist() == ["credit_note"]


def test_document_type_inferred_from_sign_when_absent_or_empty(load):
    header = INVOICE_HEADER.replace("\n", ",document_type\n")
    text = header + "I1,C1,2024-01-05,2024-02-04,-100,,\nI2,C1,2024-01-05,2024-02-04,100,,\n"
    ds = load(invoices=text)
    assert ds.invoices["document_type"].tolist() == ["credit_note", "invoice"]
    ds = load(invoices=with_row("I3,C1,2024-01-05,2024-02-04,-7.5,"))
    assert ds.report.quarantined["invoices"] == 0
    assert ds.invoices["document_type"].tolist() == ["invoice", "invoice", "credit_note"]


def test_unknown_document_type(load):
    header = INVOICE_HEADER.replace("\n", ",document_type\n")
    text = (
        header + "I1,C1,2024-01-05,2024-02-04,100,,invoice\nI2,C1,2024-01-05,2024-02-04,5,,bill\n"
    )
    only_bad(load(invoices=text), {"I2": "unknown_document_type"})


@pytest.mark.parametrize(
    ("extra_cols", "values", "reason"),
    [
        ("", "I3,C1,2024-01-05,2024-01-04,10,", "due_before_invoice"),
        ("", "I3,C1,2024-01-05,2024-02-04,10,2024-01-04", "paid_before_invoice"),
        (",dispute_date", "I3,C1,2024-01-05,2024-02-04,10,,2024-01-01", "dispute_before_invoice"),
        (
            ",written_off_date",
            "I3,C1,2024-01-05,2024-02-04,10,,2023-12-31",
            "writeoff_before_invoice",
        ),
    ],
)
def test_date_order(load, extra_cols, values, reason):
    header = INVOICE_HEADER.replace("\n", f"{extra_cols}\n")
    rows = GOOD_INVOICE_ROWS.replace("\n", "," * extra_cols.count(",") + "\n")
    only_bad(load(invoices=header + rows + values + "\n"), {"I3": reason})


def test_same_day_due_and_paid_dates_are_fine(load):
    ds = load(invoices=with_row("I3,C1,2024-01-05,2024-01-05,10,2024-01-05"))
    assert ds.report.quarantined["invoices"] == 0


@pytest.mark.parametrize("value", ["05/01/2024", "2024-02-30", "Jan 5 2024", "2024-13-01", "x"])
def test_unparseable_date(load, value):
    ds = load(invoices=with_row(f"I3,C1,2024-01-05,{value},10,"))
    only_bad(ds, {"I3": "unparseable_date:due_date"})
    assert ds.quarantine["invoices"]["due_date"].tolist() == [value]


def test_date_out_of_range(load):
    ds = load(invoices=with_row("I3,C1,2024-01-05,2024-02-04,10,2999-01-01"))
    only_bad(ds, {"I3": "date_out_of_range:paid_date"})


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-05",
        "2024-1-5",
        "2024/01/05",
        "20240105",
        "2024-01-05 13:45:00",
        "2024-01-05T13:45:00.123Z",
        "2024-01-05 13:45+02:00",
    ],
)
def test_accepted_date_formats_are_normalised_to_midnight(load, value):
    ds = load(invoices=with_row(f"I3,C1,{value},2024-02-04,10,"))
    assert ds.report.quarantined["invoices"] == 0
    assert ds.invoices["invoice_date"].iloc[2] == pd.Timestamp("2024-01-05")


@pytest.mark.parametrize("value", ["abc", "12 34", "1,2,3", "--5", "EUR 10", "inf"])
def test_unparseable_number(load, value):
    ds = load(invoices=with_row(f'I3,C1,2024-01-05,2024-02-04,"{value}",'))
    only_bad(ds, {"I3": "unparseable_number:amount"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234.5", 1234.5),
        ("1,234.50", 1234.5),
        ("1 234.50", 1234.5),
        ("1234.50-", -1234.5),
        ("(1234.50)", -1234.5),
        ("-1e3", -1000.0),
        ("1,234", 1234.0),  # no decimal comma elsewhere: comma is a thousands separator
    ],
)
def test_accepted_number_formats(load, value, expected):
    ds = load(invoices=with_row(f'I3,C1,2024-01-05,2024-02-04,"{value}",'))
    assert ds.report.quarantined["invoices"] == 0
    assert ds.invoices["amount"].iloc[2] == expected


def test_decimal_comma_table_reads_ambiguous_values_the_same_way(load):
    text = INVOICE_HEADER + (
        'I1,C1,2024-01-05,2024-02-04,"1.234,50",\n'
        'I2,C1,2024-01-05,2024-02-04,"99,9",\n'
        "I3,C1,2024-01-05,2024-02-04,1.500,\n"
    )
    ds = load(invoices=text)
    assert ds.invoices["amount"].tolist() == [1234.5, 99.9, 1500.0]


def test_ambiguous_number_in_a_mixed_table_is_quarantined(load):
    text = INVOICE_HEADER + (
        'I1,C1,2024-01-05,2024-02-04,"1,234.50",\n'
        'I2,C1,2024-01-05,2024-02-04,"99,9",\n'
        'I3,C1,2024-01-05,2024-02-04,"1,500",\n'
    )
    only_bad(load(invoices=text), {"I3": "unparseable_number:amount"})


def test_duplicate_invoice_id_keeps_the_first(load):
    ds = load(invoices=with_row("I1,C2,2024-03-01,2024-03-31,999,"))
    only_bad(ds, {"I1": "duplicate_invoice_id"})
    assert ds.invoices.set_index("invoice_id").loc["I1", "amount"] == 100.0
    assert ds.quarantine["invoices"]["_row"].tolist() == [4]


def test_bad_boolean_disputed_and_accepted_spellings(load):
    header = INVOICE_HEADER.replace("\n", ",disputed\n")
    spellings = ["TRUE", "yes", "Y", "1", "false", "No", "n", "0", "", "maybe"]
    rows = "".join(f"I{i},C1,2024-01-05,2024-02-04,10,,{v}\n" for i, v in enumerate(spellings))
    ds = load(invoices=header + rows)
    only_bad(ds, {"I9": "bad_boolean:disputed"})
    assert ds.invoices["disputed"].tolist() == [True] * 4 + [False] * 5
    assert ds.invoices["disputed"].dtype == bool


def test_empty_disputed_with_a_dispute_date_counts_as_disputed(load):
    header = INVOICE_HEADER.replace("\n", ",disputed,dispute_date\n")
    text = header + "I1,C1,2024-01-05,2024-02-04,10,,,2024-01-20\n"
    assert load(invoices=text).invoices["disputed"].tolist() == [True]


def test_currency_default_and_invalid_currency(load):
    header = INVOICE_HEADER.replace("\n", ",currency\n")
    text = (
        header + "I1,C1,2024-01-05,2024-02-04,10,,\nI2,C1,2024-01-05,2024-02-04,10,,pln\n"
        "I3,C1,2024-01-05,2024-02-04,10,,€\n"
    )
    ds = load(invoices=text)
    only_bad(ds, {"I3": "invalid_currency"})
    assert ds.invoices["currency"].tolist() == ["EUR", "PLN"]


def test_several_reasons_are_joined(load):
    ds = load(invoices=with_row("I1,C9,2024-01-05,2023-01-01,0,"))
    assert (
        reasons(ds)["I1"] == "duplicate_invoice_id;unknown_customer;zero_amount;due_before_invoice"
    )


# --------------------------------------------------------------------------- customers


def test_duplicate_customer_id_keeps_the_first(load):
    ds = load(customers=CUSTOMERS_CSV + "C1,company,other,FR,60,5,Dup,dup@example.com\n")
    only_bad(ds, {"C1": "duplicate_customer_id"}, "customers")
    assert ds.customers.set_index("customer_id").loc["C1", "industry"] == "retail"
    assert ds.report.quarantined["invoices"] == 0  # C1 still exists


def test_unknown_customer_type_and_case_insensitive_known_types(load):
    customers = CUSTOMERS_CSV + "C3,SOLE TRADER,,,,,,\nC4,,,,,,,\nC5,alien,,,,,,\n"
    ds = load(customers=customers)
    only_bad(ds, {"C5": "unknown_customer_type"}, "customers")
    types = ds.customers.set_index("customer_id")["customer_type"]
    assert types["C3"] == "sole_trader"
    assert types["C4"] == "company"


def test_negative_credit_limit(load):
    ds = load(customers=CUSTOMERS_CSV + "C3,company,,,30,-1,,\n")
    only_bad(ds, {"C3": "negative_credit_limit"}, "customers")


def test_negative_payment_terms(load):
    ds = load(customers=CUSTOMERS_CSV + "C3,company,,,-30,100,,\n")
    only_bad(ds, {"C3": "negative_payment_terms"}, "customers")


def test_customer_defaults(load):
    ds = load(customers="customer_id\nC1\nC2\n")
    row = ds.customers.iloc[0]
    assert (row["customer_type"], row["industry"], row["country"]) == (
        "company",
        "unknown",
        "unknown",
    )
    assert pd.isna(row["payment_terms_days"]) and pd.isna(row["credit_limit"])
    assert pd.isna(row["created_date"])
    assert "name" not in ds.customers.columns


# ---------------------------------------------------------------------- payments, reminders

PAYMENT_HEADER = "payment_id,invoice_id,customer_id,payment_date,amount\n"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("P2,I9,,2024-01-20,10", "unknown_invoice"),
        ("P2,I1,,20.01.2024,10", "unparseable_date:payment_date"),
        ("P2,I1,,2024-01-20,0", "non_positive_amount"),
        ("P2,I1,,2024-01-20,-5", "non_positive_amount"),
        ("P2,I1,C2,2024-01-20,10", "customer_mismatch"),
        ("P2,I1,,2024-01-01,10", "payment_before_invoice"),
        ("P1,I1,,2024-01-20,10", "duplicate_payment_id"),
        ("P2,,,2024-01-20,10", "missing_value:invoice_id"),
    ],
)
def test_payment_rules(load, row, reason):
    payments = PAYMENT_HEADER + "P1,I1,C1,2024-01-20,50\n" + row + "\n"
    ds = load(payments=payments)
    assert ds.quarantine["payments"]["_reason"].tolist() == [reason]
    assert ds.payments["payment_id"].tolist() == ["P1"]
    assert_nothing_lost(ds)


def test_payment_for_a_quarantined_invoice_is_unknown_invoice(load):
    invoices = with_row("I3,C1,2024-01-05,2023-01-01,10,")
    ds = load(invoices=invoices, payments=PAYMENT_HEADER + "P1,I3,,2024-01-20,10\n")
    assert ds.quarantine["payments"]["_reason"].tolist() == ["unknown_invoice"]


def test_payment_customer_filled_from_invoice_and_ids_generated(load):
    ds = load(payments="invoice_id,payment_date,amount\nI2,2024-01-20,50\n")
    row = ds.payments.iloc[0]
    assert row["customer_id"] == "C2"
    assert row["payment_id"] == "payments-row-2"


REMINDER_HEADER = "invoice_id,customer_id,sent_date,channel,outcome\n"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("I9,,2024-02-05,email,", "unknown_invoice"),
        ("I1,,2024-02-05,pigeon,", "unknown_channel"),
        ("I1,,5.2.2024,email,", "unparseable_date:sent_date"),
        ("I1,C2,2024-02-05,email,", "customer_mismatch"),
        ("I1,,2024-02-05,,", "missing_value:channel"),
    ],
)
def test_reminder_rules(load, row, reason):
    reminders = REMINDER_HEADER + "I1,C1,2024-02-05,E-Mail,paid\n" + row + "\n"
    ds = load(reminders=reminders)
    assert ds.quarantine["reminders"]["_reason"].tolist() == [reason]
    assert ds.reminders["channel"].tolist() == ["email"]
    assert_nothing_lost(ds)


def test_reminder_outcome_empty_is_missing(load):
    reminders = REMINDER_HEADER + "I1,,2024-02-05,SMS,\n"
    row = load(reminders=reminders).reminders.iloc[0]
    assert row["channel"] == "sms"
    assert row["customer_id"] == "C1"
    assert pd.isna(row["outcome"])


def test_clean_invoices_fixture_is_clean(load):
    ds = load(invoices=INVOICES_CSV)
    assert sum(ds.report.quarantined.values()) == 0
