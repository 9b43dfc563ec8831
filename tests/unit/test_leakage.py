"""Leakage: nothing dated on or after T moves a feature at T, in any table, on any path.

Every input table is perturbed after T (invoices: payments, disputes and write-offs moved,
open invoices paid, new invoices; payments: moved and new ones; reminders: moved, outcomes
changed and new ones), and the features at T stay identical for the batch (DuckDB) and the
online (API) engines. The same perturbation does move the features at a later date, so the
check would see a leak.
"""

import pandas as pd
import pytest

from payer_model.data.generate import generate_dataset
from payer_model.features import build_features
from payer_model.features.leakage import future_invariance_check, perturb_future
from payer_model.features.online import compute_online, customers_from_tables

T = "2023-10-01"
LATER = "2023-12-01"


@pytest.fixture(scope="module")
def tables():
    return generate_dataset(80, 14, seed=2)


def _shift(dates: pd.Series, t: pd.Timestamp, days: int) -> pd.Series:
    d = pd.to_datetime(dates)
    return d.where(d < t, d + pd.Timedelta(days=days))


def perturb_all(tables: dict, as_of: str, shift_days: int = 17) -> dict:
    """Every table with its events on or after ``as_of`` moved, changed or added."""
    t = pd.Timestamp(as_of)
    inv = perturb_future(tables["invoices"], as_of, shift_days)
    pay = tables["payments"].copy()
    after = pd.to_datetime(pay["payment_date"]) >= t
    pay["payment_date"] = _shift(pay["payment_date"], t, shift_days)
    pay.loc[after, "amount"] = pay.loc[after, "amount"] * 0.5
    first_inv = tables["invoices"].drop_duplicates("customer_id")
    new_pay = pd.DataFrame(
        {
            "payment_id": [f"future-pay-{i}" for i in range(len(first_inv))],
            "invoice_id": first_inv["invoice_id"].to_numpy(),
            "customer_id": first_inv["customer_id"].to_numpy(),
            "payment_date": t + pd.Timedelta(days=3),
            "amount": 11.0,
        }
    )
    rem = tables["reminders"].copy()
    after = pd.to_datetime(rem["sent_date"]) >= t
    rem["sent_date"] = _shift(rem["sent_date"], t, shift_days)
    rem.loc[after, "outcome"] = "promise_to_pay"
    new_rem = pd.DataFrame(
        {
            "invoice_id": first_inv["invoice_id"].to_numpy(),
            "customer_id": first_inv["customer_id"].to_numpy(),
            "sent_date": t,  # dated T: unknown at T
            "channel": "email",
            "outcome": "no_response",
        }
    )
    return {
        **tables,
        "invoices": inv,
        "payments": pd.concat([pay, new_pay], ignore_index=True),
        "reminders": pd.concat([rem, new_rem], ignore_index=True),
    }


def _batch(tables: dict, as_of: str) -> pd.DataFrame:
    return build_features(
        tables["invoices"],
        as_of,
        customers=tables["customers"],
        payments=tables["payments"],
        reminders=tables["reminders"],
    )


def _online(tables: dict, as_of: str) -> pd.DataFrame:
    records = customers_from_tables(
        tables["invoices"], tables["customers"], tables["payments"], tables["reminders"]
    )
    frame = compute_online(records, pd.Timestamp(as_of).date()).to_frame()
    return frame.sort_values("customer_id").reset_index(drop=True)


def test_future_events_do_not_move_features_on_generated_data(tables):
    assert future_invariance_check(tables["invoices"], T)


@pytest.mark.parametrize("engine", [_batch, _online], ids=["batch", "online"])
def test_no_table_leaks_events_after_t(tables, engine):
    before = engine(tables, T)
    after = engine(perturb_all(tables, T), T)
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("engine", [_batch, _online], ids=["batch", "online"])
def test_the_perturbation_is_visible_after_t(tables, engine):
    a = engine(tables, LATER)
    b = engine(perturb_all(tables, T), LATER)
    assert not a.equals(b)


def test_payments_and_reminders_alone_are_visible_after_t(tables):
    """The payment and reminder perturbations reach features by themselves (not only via
    invoices), so the invariance above covers those tables too."""
    perturbed = perturb_all(tables, T)
    only = {**perturbed, "invoices": tables["invoices"]}
    a, b = _batch(tables, LATER), _batch(only, LATER)
    changed = [c for c in a.columns if not a[c].equals(b[c])]
    assert {"reminders_12m", "reminder_response_rate"} & set(changed), changed
