"""Tests of the synthetic data generator (payer_model.data.generate)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from payer_model.data.generate import ARCHETYPES, OUTCOMES, generate_dataset, write_dataset
from payer_model.data.schema import CHANNELS, CUSTOMER_TYPES, DATE_COLUMNS

START = "2023-01-01"
MONTHS = 24
END = pd.Timestamp("2025-01-01")
SHIFT = "2024-01-01"

COLUMNS = {
    "customers": [
        "customer_id",
        "customer_type",
        "industry",
        "country",
        "payment_terms_days",
        "credit_limit",
        "created_date",
        "name",
        "email",
    ],
    "invoices": [
        "invoice_id",
        "customer_id",
        "document_type",
        "invoice_date",
        "due_date",
        "amount",
        "currency",
        "paid_date",
        "paid_amount",
        "disputed",
        "dispute_date",
        "written_off_date",
    ],
    "payments": ["payment_id", "invoice_id", "customer_id", "payment_date", "amount"],
    "reminders": ["invoice_id", "customer_id", "sent_date", "channel", "outcome"],
    "truth": ["customer_id", "archetype"],
}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_dataset(1200, MONTHS, seed=7, start=START)


@pytest.fixture(scope="module")
def invoices(tables) -> pd.DataFrame:
    """Real invoices (no credit notes) with days late and the archetype attached."""
    inv = tables["invoices"].merge(tables["truth"], on="customer_id", validate="many_to_one")
    inv = inv[inv["document_type"] == "invoice"].copy()
    inv["days_late"] = (inv["paid_date"] - inv["due_date"]).dt.days
    return inv


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_columns_are_exact(tables):
    assert set(tables) == set(COLUMNS)
    for name, cols in COLUMNS.items():
        assert list(tables[name].columns) == cols, name


def test_same_seed_gives_byte_identical_files(tmp_path):
    for fmt in ("csv", "parquet"):
        a = write_dataset(generate_dataset(150, 12, seed=3), tmp_path / f"a_{fmt}", fmt=fmt)
        b = write_dataset(generate_dataset(150, 12, seed=3), tmp_path / f"b_{fmt}", fmt=fmt)
        assert sorted(p.name for p in a.values()) == sorted(p.name for p in b.values())
        assert _digest(tmp_path / f"a_{fmt}") == _digest(tmp_path / f"b_{fmt}")


def test_other_seed_gives_other_data():
    a = generate_dataset(150, 12, seed=3)["invoices"]
    b = generate_dataset(150, 12, seed=4)["invoices"]
    assert not a.equals(b)


def test_nothing_dated_on_or_after_the_data_end(tables):
    for name, cols in DATE_COLUMNS.items():
        for col in cols:
            if col == "due_date":
                continue  # a term agreed on the invoice, not an event: may lie after the end
            dates = tables[name][col].dropna()
            assert (dates < END).all(), f"{name}.{col}"
    inv = tables["invoices"]
    assert (inv["invoice_date"] >= pd.Timestamp(START)).all()
    # recent invoices are not yet due at the end; some are already paid (early)
    not_due = inv["due_date"] >= END
    assert not_due.any()
    assert inv.loc[not_due & (inv["document_type"] == "invoice"), "paid_date"].notna().any()


def test_invoice_dates_are_consistent(tables):
    inv = tables["invoices"]
    assert inv["invoice_id"].is_unique
    assert (inv["due_date"] >= inv["invoice_date"]).all()
    paid = inv["paid_date"].notna()
    assert (inv.loc[paid, "paid_date"] >= inv.loc[paid, "invoice_date"]).all()
    assert set(inv["customer_id"]) <= set(tables["customers"]["customer_id"])
    # open at the end: some invoices are still unpaid, and those carry no full payment
    assert (~paid).any()
    assert (inv.loc[~paid, "paid_amount"] < inv.loc[~paid, "amount"]).all()
    assert np.allclose(inv.loc[paid, "paid_amount"], inv.loc[paid, "amount"])


def test_credit_notes_are_negative_and_applied_at_once(tables):
    inv = tables["invoices"]
    credit = inv["document_type"] == "credit_note"
    assert 0.005 < credit.mean() < 0.05
    assert (inv.loc[credit, "amount"] < 0).all()
    assert (inv.loc[~credit, "amount"] > 0).all()
    assert (inv.loc[credit, "paid_date"] == inv.loc[credit, "invoice_date"]).all()
    assert not inv.loc[credit, "disputed"].any()
    assert inv["amount"].dtype == np.float64


def test_disputes_fall_between_invoice_and_payment(tables):
    inv = tables["invoices"]
    d = inv[inv["disputed"]]
    assert 0.01 < inv["disputed"].mean() < 0.06
    assert d["dispute_date"].notna().all()
    assert inv.loc[~inv["disputed"], "dispute_date"].isna().all()
    assert (d["dispute_date"] > d["invoice_date"]).all()
    paid = d["paid_date"].notna()
    assert (d.loc[paid, "dispute_date"] < d.loc[paid, "paid_date"]).all()


def test_customers_master_data(tables):
    cust = tables["customers"]
    assert cust["customer_id"].is_unique
    assert cust["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert set(cust["customer_type"]) <= set(CUSTOMER_TYPES)
    assert (cust["customer_type"] == "company").mean() > 0.8
    terms = cust["payment_terms_days"]
    assert terms.isna().any() and (terms.dropna() > 0).all()
    assert (cust["credit_limit"].dropna() >= 0).all()
    # reserved example domains only
    assert cust["email"].str.endswith(("@example.com", ".example.org")).all()


def test_archetype_shares(tables):
    shares = tables["truth"]["archetype"].value_counts(normalize=True)
    assert set(shares.index) == set(ARCHETYPES)
    assert 0.25 < shares["prompt"] < 0.35
    assert 0.08 < shares["chronic_late"] < 0.16


def test_chronic_customers_pay_later_than_prompt_ones(invoices):
    mean = invoices.groupby("archetype")["days_late"].mean()
    assert mean["chronic_late"] > mean["prompt"] + 25
    assert mean["occasional_delay"] > mean["prompt"]
    assert mean["prompt"] < 5
    over30 = invoices["days_late"].gt(30).groupby(invoices["archetype"]).mean()
    assert over30["prompt"] < 0.05 < over30["chronic_late"]


def test_trend_archetypes_change_over_time(invoices):
    mid = pd.Timestamp("2024-01-01")
    for arch, sign in (("deteriorating", 1), ("improving", -1)):
        sub = invoices[invoices["archetype"] == arch]
        early = sub.loc[sub["due_date"] < pd.Timestamp("2023-05-01"), "days_late"].mean()
        late = sub.loc[sub["due_date"] >= mid + pd.Timedelta(days=150), "days_late"].mean()
        assert sign * (late - early) > 15, arch


def test_defaulting_customers_get_written_off(tables, invoices):
    wo = invoices[invoices["written_off_date"].notna()]
    assert (wo["archetype"] == "defaulting").mean() > 0.8
    assert wo["paid_date"].isna().all()
    assert (wo["written_off_date"] >= wo["due_date"] + pd.Timedelta(days=150)).all()
    defaulting = invoices[invoices["archetype"] == "defaulting"]
    assert defaulting["written_off_date"].notna().mean() > 0.05


def test_new_customers_are_created_late(tables):
    cust = tables["customers"].merge(tables["truth"], on="customer_id")
    new = cust["archetype"] == "new"
    assert (cust.loc[new, "created_date"] >= END - pd.Timedelta(days=190)).all()
    assert (cust.loc[~new, "created_date"] < pd.Timestamp(START)).all()


def test_shift_raises_days_late_after_the_date_only():
    base = generate_dataset(800, MONTHS, seed=11)["invoices"]
    shifted = generate_dataset(800, MONTHS, seed=11, shift_from=SHIFT)["invoices"]
    # same invoices; only their settlement differs
    pd.testing.assert_series_equal(base["invoice_id"], shifted["invoice_id"])
    pd.testing.assert_series_equal(base["due_date"], shifted["due_date"])
    pd.testing.assert_series_equal(base["amount"], shifted["amount"])

    def mean_late(inv: pd.DataFrame, after: bool) -> float:
        inv = inv[inv["document_type"] == "invoice"]
        sel = (inv["due_date"] >= pd.Timestamp(SHIFT)) == after
        return (inv.loc[sel, "paid_date"] - inv.loc[sel, "due_date"]).dt.days.mean()

    assert mean_late(shifted, after=True) > mean_late(base, after=True) + 5
    assert mean_late(shifted, after=False) == pytest.approx(mean_late(base, after=False))


def test_reminders_only_while_unpaid_and_before_the_end(tables):
    rem = tables["reminders"]
    assert len(rem) > 0
    assert set(rem["channel"]) <= set(CHANNELS)
    assert set(rem["outcome"]) <= set(OUTCOMES)
    joined = rem.merge(
        tables["invoices"], on=["invoice_id", "customer_id"], how="left", validate="many_to_one"
    )
    assert joined["document_type"].eq("invoice").all()
    assert (joined["sent_date"] < END).all()
    assert (joined["sent_date"] >= joined["invoice_date"]).all()
    paid = joined["paid_date"].notna()
    assert (joined.loc[paid, "sent_date"] < joined.loc[paid, "paid_date"]).all()
    wo = joined["written_off_date"].notna()
    assert (joined.loc[wo, "sent_date"] < joined.loc[wo, "written_off_date"]).all()
    offset = (joined["sent_date"] - joined["due_date"]).dt.days
    assert set(offset.unique()) <= {-3, 3, 10, 20, 35, 50, 70, 90}
    assert (offset == -3).any()


def test_payments_add_up_to_paid_amount(tables):
    pay = tables["payments"]
    inv = tables["invoices"].set_index("invoice_id")
    assert pay["payment_id"].is_unique
    assert (pay["amount"] > 0).all()
    per_invoice = pay.groupby("invoice_id")["amount"].sum()
    assert 0.02 < len(per_invoice) / len(inv) < 0.09
    np.testing.assert_allclose(
        per_invoice.to_numpy(), inv.loc[per_invoice.index, "paid_amount"].to_numpy(), atol=0.011
    )
    first = pay.groupby("invoice_id")["payment_date"].min()
    assert (first > inv.loc[first.index, "invoice_date"]).all()
    settled = inv.loc[first.index, "paid_date"].notna()
    assert (first[settled] < inv.loc[first.index[settled], "paid_date"]).all()


def test_write_dataset_formats(tmp_path, tables):
    small = {k: v.head(50) for k, v in tables.items()}
    paths = write_dataset(small, tmp_path / "csv")
    assert {p.name for p in paths.values()} == {f"{k}.csv" for k in COLUMNS}
    text = paths["invoices"].read_text().splitlines()
    assert text[0] == ",".join(COLUMNS["invoices"])
    first = dict(zip(COLUMNS["invoices"], text[1].split(","), strict=True))
    assert len(first["invoice_date"]) == 10 and first["invoice_date"][4] == "-"
    back = pd.read_csv(paths["invoices"], keep_default_na=False)
    assert (back["written_off_date"] == "").any()  # missing dates are empty fields

    ppaths = write_dataset(small, tmp_path / "pq", fmt="parquet")
    schema = pq.read_schema(ppaths["invoices"])
    assert str(schema.field("due_date").type) == "date32[day]"
    assert str(schema.field("amount").type) == "double"


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        generate_dataset(0, 12)
    with pytest.raises(ValueError, match="positive"):
        generate_dataset(10, 12, invoices_per_month=0)
    with pytest.raises(ValueError, match="fmt"):
        write_dataset({}, tmp_path, fmt="xlsx")
