"""Labels at T, and the time split."""

import pandas as pd
import pytest

from payer_model.config import LabelConfig, SplitConfig
from payer_model.features.labels import (
    InsufficientHistoryError,
    data_range,
    label_snapshots,
    plan_cutoffs,
)

CFG = LabelConfig()
T = pd.Timestamp("2024-04-01")


def _inv(rows):
    df = pd.DataFrame(
        rows,
        columns=["invoice_id", "customer_id", "invoice_date", "due_date", "paid_date", "amount"],
    )
    for c in ("invoice_date", "due_date", "paid_date"):
        df[c] = pd.to_datetime(df[c])
    return df


def _label(rows):
    lab = label_snapshots(_inv(rows), T, CFG)
    return dict(zip(lab["customer_id"], lab["label"], strict=True))


def test_good_average_bad():
    labels = _label(
        [
            ("g", "G", "2024-03-20", "2024-04-19", "2024-04-20", 100.0),  # 1 day late
            ("a", "A", "2024-03-20", "2024-04-19", "2024-05-09", 100.0),  # 20 days late
            ("b", "B", "2024-03-20", "2024-04-19", "2024-06-10", 100.0),  # 52 days late
        ]
    )
    assert labels == {"G": "good", "A": "average", "B": "bad"}


def test_unpaid_at_observation_end_is_bad():
    # due 2024-04-19, never paid: at E = T+120 it is 102 days past due
    assert _label([("u", "U", "2024-03-20", "2024-04-19", None, 100.0)]) == {"U": "bad"}


def test_paid_after_observation_end_counts_as_unpaid():
    late = T + pd.Timedelta(days=200)
    assert _label([("u", "U", "2024-03-20", "2024-04-19", late, 100.0)]) == {"U": "bad"}


def test_invoice_paid_before_t_is_not_in_window():
    assert _label([("p", "P", "2024-01-01", "2024-01-31", "2024-03-30", 100.0)]) == {}


def test_open_at_t_paid_later_is_in_window():
    # paid on T exactly: it was open at T and feeds the label (55 days late)
    assert _label([("o", "O", "2024-01-07", "2024-02-06", "2024-04-01", 100.0)]) == {"O": "bad"}


def test_writeoff_is_bad():
    inv = _inv([("w", "W", "2024-03-20", "2024-04-19", None, 100.0)])
    inv["written_off_date"] = pd.Timestamp("2024-06-01")
    assert label_snapshots(inv, T, CFG)["label"].tolist() == ["bad"]


def test_plan_is_out_of_time():
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-01-01")
    plan = plan_cutoffs(start, end, CFG, SplitConfig())
    obs = pd.Timedelta(days=CFG.observation_days)
    assert max(plan.train) + obs <= min(plan.val)
    assert max(plan.val) + obs <= min(plan.test)
    assert max(plan.test) + obs <= end
    assert len(plan.test) == 3


def test_short_history_says_how_much_is_needed():
    with pytest.raises(InsufficientHistoryError, match="needs at least about 14 months"):
        plan_cutoffs(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-07-01"), CFG, SplitConfig())


def test_about_fourteen_months_is_enough():
    plan = plan_cutoffs(pd.Timestamp("2023-01-01"), pd.Timestamp("2024-02-15"), CFG, SplitConfig())
    assert plan.test and plan.train and plan.notes


def test_data_range_is_day_after_last_event():
    inv = _inv([("a", "A", "2024-01-01", "2024-01-31", "2024-02-10", 1.0)])
    assert data_range(inv) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-11"))


def test_tight_preset_and_labels_report_warn_on_an_empty_test_class():
    from payer_model.data.generate import preset_dataset
    from payer_model.features.labels import LABEL_PRESETS, labels_report

    tight = LABEL_PRESETS["tight"]
    assert (tight.good_max_mean_days_late, tight.good_max_days_late) == (2.0, 10.0)
    assert tight.bad_min_mean_days_late == 15.0
    inv = preset_dataset("small-stable", seed=1)["invoices"]
    rep = labels_report(inv)
    assert set(rep["presets"]) == {"default", "tight"}
    months = rep["presets"]["tight"]["months"]
    assert {m["window"] for m in months} == {"train", "val", "test"}
    assert sum(m["bad"] for m in months if m["window"] == "test") > 0
    assert rep["presets"]["tight"]["empty_in_test"] == []
    # a portfolio with no bad payer at all: the report names the empty class
    never_bad = {"very-loose": LabelConfig(bad_min_mean_days_late=10_000, bad_unpaid_share=2.0)}
    inv = inv[inv["written_off_date"].isna()]
    rep = labels_report(inv, presets=never_bad)
    assert rep["presets"]["very-loose"]["empty_in_test"] == ["bad"]
    assert "no 'bad' snapshot in the test window" in rep["warnings"][0]
