"""Invoice features at T never move when anything dated on or after T changes."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.features.invoice import INVOICE_COLUMNS, compute_invoices
from payer_model.features.leakage import perturb_future

CFG = TrainConfig()


@pytest.fixture(scope="module")
def tables():
    d = generate_dataset(60, 14, seed=2)
    return {k: d[k] for k in ("customers", "invoices", "payments", "reminders")}


def perturb_all(tables: dict, t: pd.Timestamp, shift: int) -> dict:
    """Every table changed after T: invoices (paid, write-off, dispute dates, new invoices),
    new disputes on open invoices, payments and reminders moved or added after T."""
    inv = perturb_future(tables["invoices"], t, shift)
    later = t + pd.Timedelta(days=shift)
    no_dispute = inv["dispute_date"].isna() & (pd.to_datetime(inv["invoice_date"]) < t)
    inv.loc[no_dispute, "dispute_date"] = later
    inv.loc[no_dispute, "disputed"] = True
    pay = tables["payments"].copy()
    d = pd.to_datetime(pay["payment_date"])
    pay["payment_date"] = d.where(d < t, d + pd.Timedelta(days=shift))
    open_ids = inv.loc[pd.to_datetime(inv["invoice_date"]) < t, ["invoice_id", "customer_id"]]
    extra_pay = open_ids.assign(payment_id="PX", payment_date=t, amount=11.0)
    rem = tables["reminders"].copy()
    r = pd.to_datetime(rem["sent_date"])
    rem["sent_date"] = r.where(r < t, r + pd.Timedelta(days=shift))
    extra_rem = open_ids.assign(sent_date=later, channel="email", outcome="sent")
    return {
        "customers": tables["customers"],
        "invoices": inv,
        "payments": pd.concat([pay, extra_pay], ignore_index=True),
        "reminders": pd.concat([rem, extra_rem], ignore_index=True),
    }


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day=st.integers(120, 400), shift=st.integers(1, 60))
def test_invoice_features_ignore_everything_after_t(tables, day, shift):
    t = pd.Timestamp("2023-01-02") + pd.Timedelta(days=day)
    before = compute_invoices(tables, t, CFG)
    after = compute_invoices(perturb_all(tables, t, shift), t, CFG)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, after)


def test_the_perturbation_is_visible_a_day_later(tables):
    """The check can fail: one day after T the same perturbation changes the features."""
    t = pd.Timestamp("2023-09-01")
    later = t + pd.Timedelta(days=1)
    a = compute_invoices(tables, later, CFG)
    b = compute_invoices(perturb_all(tables, t, 1), later, CFG)
    assert not a[list(INVOICE_COLUMNS)].equals(b[list(INVOICE_COLUMNS)])


def test_rows_are_the_open_invoices_and_those_issued_at_t(tables):
    t = pd.Timestamp("2023-09-01")
    snap = compute_invoices(tables, t, CFG)
    inv = tables["invoices"]
    paid = pd.to_datetime(inv["paid_date"])
    wo = pd.to_datetime(inv["written_off_date"])
    issued = pd.to_datetime(inv["invoice_date"])
    expected = inv[
        (issued <= t) & (paid.isna() | (paid >= t)) & (wo.isna() | (wo >= t)) & (inv["amount"] > 0)
    ]
    assert set(snap["invoice_id"]) == set(expected["invoice_id"].astype(str))
    assert (snap["days_to_due"] == (snap["due_date"] - t).dt.days).all()
    assert snap.groupby("customer_id")["open_rank"].min().eq(1).all()


def test_an_invoice_paid_on_t_is_open_at_t(tables):
    inv = tables["invoices"]
    row = inv[inv["paid_date"].notna()].iloc[0]
    t = pd.Timestamp(row["paid_date"])
    snap = compute_invoices(tables, t, CFG)
    assert str(row["invoice_id"]) in set(snap["invoice_id"])
    snap_next = compute_invoices(tables, t + pd.Timedelta(days=1), CFG)
    assert str(row["invoice_id"]) not in set(snap_next["invoice_id"])
