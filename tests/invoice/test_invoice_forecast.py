"""The 13-week forecast: weeks counted from T, the model's distribution summed per week."""

import numpy as np
import pandas as pd
import pytest

from payer_model.modelling.forecast import (
    actual_collections,
    date_forecast,
    forecast_table,
    model_forecast,
    wape,
)

T = pd.Timestamp("2024-06-03")


class PaysOnDueDate:
    """A pay-time distribution with all its mass on the due date (or T when overdue)."""

    def pay_cdf(self, snap, days):
        d = np.maximum((snap["due_date"] - snap["as_of"]).dt.days.to_numpy(), 0) + 1
        return (d[:, None] <= np.asarray(days)[None, :]).astype(float)


@pytest.fixture
def snap():
    return pd.DataFrame(
        {
            "as_of": T,
            "due_date": T + pd.to_timedelta([-10, 6, 7, 200], unit="D"),
            "paid_date": T + pd.to_timedelta([0, 13, 14, 300], unit="D"),
            "outstanding": [100.0, 200.0, 300.0, 400.0],
        }
    )


def test_weeks_start_at_t_and_overdue_invoices_fall_in_week_zero(snap):
    due = date_forecast(snap, snap["due_date"], weeks=3)
    assert due.tolist() == [300.0, 300.0, 0.0]  # day 6 is week 0, day 7 week 1; day 200 beyond


def test_the_model_forecast_sums_each_invoice_distribution_per_week(snap):
    assert model_forecast(PaysOnDueDate(), snap, 3).tolist() == [300.0, 300.0, 0.0]


def test_actuals_and_wape(snap):
    actual = actual_collections(snap, weeks=3)
    assert actual.tolist() == [100.0, 200.0, 300.0]
    assert wape(np.array([300.0, 300.0, 0.0]), actual) == pytest.approx(600 / 600)
    assert wape(actual, actual) == 0.0
    assert wape(actual, np.zeros(3)) is None


def test_forecast_table_has_thirteen_weeks_and_the_actuals(snap):
    cm = snap["due_date"] + pd.Timedelta(days=5)
    table = forecast_table(PaysOnDueDate(), snap, cm, with_actual=True)
    assert len(table) == 13 and table["week_start"].iloc[1] == T + pd.Timedelta(days=7)
    assert table["model"].sum() == table["due_date"].sum() == 600.0
    assert table["actual"].sum() == 600.0
