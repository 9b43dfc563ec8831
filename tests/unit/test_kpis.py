"""Collections KPIs and migration on hand-made 3-customer frames."""

import pandas as pd
import pytest

from payer_model.jobs.monitor import post_webhook
from payer_model.monitoring.alerts import distribution_drift
from payer_model.monitoring.kpis import collection_kpis, dso_count_back
from payer_model.monitoring.migration import migration_matrix, movers

T = pd.Timestamp


def _invoices():
    # month 2024-03: A paid on time, B 100 open past due > 90 days, C open, not yet due
    return pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4"],
            "customer_id": ["A", "B", "C", "A"],
            "invoice_date": [T("2024-03-01"), T("2023-11-01"), T("2024-03-20"), T("2024-02-01")],
            "due_date": [T("2024-03-15"), T("2023-12-01"), T("2024-04-20"), T("2024-02-15")],
            "amount": [200.0, 100.0, 300.0, 50.0],
            "paid_date": [T("2024-03-14"), pd.NaT, pd.NaT, T("2024-03-02")],
        }
    )


def test_dso_count_back():
    assert dso_count_back(150.0, [(300.0, 31), (100.0, 29)]) == pytest.approx(15.5)
    assert dso_count_back(350.0, [(300.0, 31), (100.0, 29)]) == pytest.approx(31 + 14.5)
    assert dso_count_back(0.0, [(300.0, 31)]) == 0.0


def test_kpis_by_segment_month():
    reminders = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I2"],
            "sent_date": [T("2024-03-12"), T("2024-03-05"), T("2024-03-20")],
        }
    )
    seg = {"A": "Good", "B": "Risk", "C": "Good"}
    k = collection_kpis(
        _invoices(), seg, [pd.Period("2024-03", "M")], reminders, useless_days=3
    ).set_index("segment")
    all_ = k.loc["All"]
    # open at end of March: I2 100 + I3 300; at end of Feb: I2 100 + I4 50; March sales 500
    assert all_["open_ar"] == 400.0
    assert all_["overdue_share"] == pytest.approx(0.25)
    assert all_["share_over_90"] == pytest.approx(0.25)
    # DSO: 400 < March sales 500 -> 31 * 400/500; best possible: 300/500 * 31
    assert all_["dso"] == pytest.approx(31 * 0.8)
    assert all_["add"] == pytest.approx(31 * 0.2)
    # CEI = (150 + 500 - 400) / (150 + 500 - 300)
    assert all_["cei"] == pytest.approx(250 / 350 * 100)
    assert all_["reminders_sent"] == 3
    assert all_["useless_reminder_rate"] == pytest.approx(1 / 3)  # I1 paid 2 days later
    assert k.loc["Risk", "open_ar"] == 100.0 and k.loc["Good", "open_ar"] == 300.0
    assert k.loc["Risk", "useless_reminder_rate"] == 0.0


def test_migration_matrix_and_reasons():
    ref = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "rating": ["good", "average", "unrated"],
            "open_amt": [0.0, 0.0, 0.0],
            "wmean_days_late": [1.0, 10.0, 0.0],
            "reason_codes": ["", "LATE", ""],
        }
    )
    cur = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "rating": ["bad", "average", "good"],
            "open_amt": [500.0, 20.0, 30.0],
            "wmean_days_late": [40.0, 10.0, 2.0],
            "reason_codes": ["LATE,OVERDUE", "LATE", ""],
        }
    )
    m = migration_matrix(ref, cur)
    assert m["counts"].to_numpy().sum() == 3
    assert m["counts"].loc["good", "bad"] == 1 and m["counts"].loc["unrated", "good"] == 1
    assert m["amounts"].to_numpy().sum() == pytest.approx(550.0)
    mv = movers(ref, cur, ["wmean_days_late"]).set_index("customer_id")
    assert list(mv.index) == ["A", "C"]
    assert mv.loc["A", "steps"] == 2
    assert "wmean_days_late 1.0->40.0" in mv.loc["A", "reason"]
    assert "new reasons LATE,OVERDUE" in mv.loc["A", "reason"]


def test_distribution_drift_weighted():
    a = pd.Series(["good"] * 8 + ["bad"] * 2)
    same = distribution_drift(a, a)
    assert same["psi"] == pytest.approx(0.0) and same["js"] == pytest.approx(0.0)
    w = pd.Series([1.0] * 8 + [100.0] * 2)
    by_amt = distribution_drift(a, a, w, pd.Series(1.0, index=a.index))
    assert by_amt["shares_ref"]["bad"] > 0.9 and by_amt["psi"] > 1


def test_webhook_down_is_recorded_not_raised():
    res = post_webhook("http://127.0.0.1:9/alerts", [{"type": "x"}], timeout=0.5)
    assert res["ok"] is False and res["error"]
