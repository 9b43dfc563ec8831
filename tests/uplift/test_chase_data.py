"""The generator's randomised chasing experiment (``uplift=True``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payer_model.data.chase import ACTIONS, LOGGING_PROPENSITY, NO_REMINDER
from payer_model.data.contract import validate_frames
from payer_model.data.generate import generate_dataset


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_dataset(800, 18, seed=3, uplift=True)


def test_default_dataset_has_no_experiment() -> None:
    plain = generate_dataset(60, 6, seed=3)
    assert "chase_log" not in plain
    assert list(plain["reminders"].columns) == [
        "invoice_id",
        "customer_id",
        "sent_date",
        "channel",
        "outcome",
    ]
    assert list(plain["truth"].columns) == ["customer_id", "archetype"]


def test_propensities_are_documented_and_followed(tables: dict[str, pd.DataFrame]) -> None:
    log = tables["chase_log"]
    assert set(log["action"]) == set(ACTIONS)
    assert sum(LOGGING_PROPENSITY.values()) == pytest.approx(1.0)
    assert (log["propensity"] == log["action"].map(LOGGING_PROPENSITY)).all()
    share = log["action"].value_counts(normalize=True)
    for action, p in LOGGING_PROPENSITY.items():
        se = np.sqrt(p * (1 - p) / len(log))
        assert abs(share[action] - p) < 4 * se, action
    # randomised independently of the payer: the same mix for every archetype
    arch = log["customer_id"].map(tables["truth"].set_index("customer_id")["archetype"])
    none_share = (log["action"] == NO_REMINDER).groupby(arch).mean()
    assert none_share.between(0.22, 0.34).all()


def test_sent_reminders_carry_propensity_and_tone(tables: dict[str, pd.DataFrame]) -> None:
    rem = tables["reminders"]
    randomised = rem[rem["propensity"].notna()]
    log = tables["chase_log"]
    assert len(randomised) == int(log["sent"].sum())
    assert set(randomised["tone"]) <= {"friendly", "neutral", "firm"}
    ds = validate_frames(
        {k: tables[k] for k in ("customers", "invoices", "payments", "reminders")}
    )
    kept = ds.tables["reminders"]
    assert kept["propensity"].notna().sum() == len(randomised)


def test_reminders_move_payments_as_the_truth_says(tables: dict[str, pd.DataFrame]) -> None:
    log = tables["chase_log"].merge(
        tables["invoices"][["invoice_id", "paid_date"]], on="invoice_id"
    )
    end = tables["invoices"]["invoice_date"].max()
    log = log[log["decision_date"] + pd.Timedelta(days=14) <= end]
    y = (log["paid_date"] - log["decision_date"]).dt.days < 14
    arch = log["customer_id"].map(tables["truth"].set_index("customer_id")["archetype"])
    chronic = arch == "chronic_late"
    diff = (
        y[chronic & (log["action"] == "call+1")].mean()
        - y[chronic & (log["action"] == "none")].mean()
    )
    truth = tables["chase_truth"].set_index(["archetype", "action", "horizon"])["uplift"]
    assert truth[("chronic_late", "call+1", 14)] > 0.2
    assert diff == pytest.approx(truth[("chronic_late", "call+1", 14)], abs=0.12)
    assert {"effect_email", "effect_call"} <= set(tables["truth"].columns)
