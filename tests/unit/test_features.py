"""As-of features: hand-computed values, the three clocks, and a leakage property test."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payer_model.features import FEATURE_COLUMNS, NUMERIC_FEATURES, build_features

T = pd.Timestamp("2024-04-01")


def _inv(rows):
    df = pd.DataFrame(
        rows,
        columns=["invoice_id", "customer_id", "invoice_date", "due_date", "paid_date", "amount"],
    )
    for c in ("invoice_date", "due_date", "paid_date"):
        df[c] = pd.to_datetime(df[c])
    return df


@pytest.fixture
def three_invoices():
    return _inv(
        [
            ("a", "C1", "2024-01-01", "2024-01-31", "2024-02-20", 100.0),  # 20 days late
            ("b", "C1", "2024-02-01", "2024-03-02", "2024-04-10", 200.0),  # paid after T: open
            ("c", "C1", "2024-03-01", "2024-03-31", "2024-03-15", 10.0),  # 16 days early
        ]
    )


def test_hand_computed_values(three_invoices):
    f = build_features(three_invoices, T).iloc[0]
    assert f["paid_n"] == 2
    assert f["wmean_days_late"] == pytest.approx((100 * 20 + 10 * -16) / 110)
    assert f["open_n"] == 1 and f["open_amt"] == 200.0
    assert f["overdue_amt"] == 200.0 and f["aging_1_30"] == 200.0
    assert f["oldest_overdue_days"] == (T - pd.Timestamp("2024-03-02")).days
    assert f["max_days_late"] == 20
    assert f["inv_n"] == 3
    assert f["days_since_last_payment"] == (T - pd.Timestamp("2024-03-15")).days


def test_paid_on_the_as_of_date_is_open(three_invoices):
    inv = three_invoices.copy()
    inv.loc[inv["invoice_id"] == "b", "paid_date"] = T  # paid exactly on T: unknown at T
    f = build_features(inv, T).iloc[0]
    assert f["open_amt"] == 200.0 and f["paid_n"] == 2


def test_invoice_dated_on_as_of_does_not_exist(three_invoices):
    inv = pd.concat([three_invoices, _inv([("d", "C1", T, T + timedelta(30), None, 5.0)])])
    a = build_features(three_invoices, T)
    b = build_features(inv, T)
    pd.testing.assert_frame_equal(a, b)


def test_many_cutoffs_equal_one_at_a_time(three_invoices):
    cuts = ["2024-02-15", "2024-03-10", "2024-04-01", "2024-05-01"]
    together = build_features(three_invoices, cuts)
    apart = pd.concat([build_features(three_invoices, c) for c in cuts], ignore_index=True)
    pd.testing.assert_frame_equal(together, apart)


def test_customer_without_history_before_t_has_no_row(three_invoices):
    f = build_features(three_invoices, "2024-01-01")
    assert len(f) == 0
    assert list(f.columns) == list(FEATURE_COLUMNS)


def test_credit_notes_do_not_count_as_lateness(three_invoices):
    cn = _inv([("cn", "C1", "2024-01-05", "2024-01-05", "2024-01-05", -50.0)])
    f = build_features(pd.concat([three_invoices, cn]), T).iloc[0]
    assert f["paid_n"] == 2


def test_partial_payment_reduces_open_balance(three_invoices):
    pay = pd.DataFrame(
        {
            "invoice_id": ["b", "b"],
            "payment_date": pd.to_datetime(["2024-03-10", "2024-04-05"]),
            "amount": [50.0, 150.0],
        }
    )
    f = build_features(three_invoices, T, payments=pay).iloc[0]
    assert f["open_amt"] == 150.0  # the second payment is after T


def test_reminder_response_uses_only_resolved_reminders(three_invoices):
    rem = pd.DataFrame(
        {
            "invoice_id": ["a", "b"],
            "sent_date": pd.to_datetime(["2024-02-15", "2024-03-28"]),
            "channel": ["email", "email"],
        }
    )
    f = build_features(three_invoices, T, reminders=rem).iloc[0]
    assert f["reminders_12m"] == 2
    assert f["reminder_response_rate"] == 1.0  # only the reminder on "a" is resolved


# --- leakage property: events on or after T never change features at T -------------------


@st.composite
def histories(draw):
    n = draw(st.integers(3, 12))
    rows = []
    for i in range(n):
        start = pd.Timestamp("2023-06-01") + timedelta(days=draw(st.integers(0, 400)))
        due = start + timedelta(days=draw(st.sampled_from([14, 30, 60])))
        paid = draw(st.one_of(st.none(), st.integers(-10, 120)))
        paid_date = None if paid is None else max(start, due + timedelta(days=paid))
        rows.append(
            (
                f"i{i}",
                draw(st.sampled_from(["C1", "C2"])),
                start,
                due,
                paid_date,
                float(draw(st.integers(1, 5000))),
            )
        )
    return _inv(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inv=histories(), shift=st.integers(0, 30), data=st.data())
def test_future_events_never_change_features(inv, shift, data):
    t = pd.Timestamp("2024-03-01")
    before = build_features(inv, t)
    changed = inv.copy()
    # Any edit to what happens on or after T: move a later payment, add a new invoice,
    # or pay an open invoice on/after T.
    later = changed["paid_date"] >= t
    changed.loc[later, "paid_date"] = changed.loc[later, "paid_date"] + timedelta(days=shift)
    open_at_t = changed["paid_date"].isna() & (changed["invoice_date"] < t)
    changed.loc[open_at_t, "paid_date"] = t + timedelta(days=shift)
    cust = data.draw(st.sampled_from(["C1", "C2"]))
    new = _inv(
        [("new", cust, t + timedelta(days=shift), t + timedelta(days=shift + 30), None, 99.0)]
    )
    changed = pd.concat([changed, new], ignore_index=True)
    after = build_features(changed, t)
    pd.testing.assert_frame_equal(before, after)


def test_numeric_features_are_float():
    inv = _inv([("a", "C1", "2024-01-01", "2024-01-31", "2024-02-02", 1.0)])
    f = build_features(inv, T)
    assert all(f[c].dtype == np.float64 for c in NUMERIC_FEATURES)
