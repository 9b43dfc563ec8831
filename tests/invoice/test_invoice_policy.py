"""Policy rules on an invoice's P(late) band, and the worklist by expected overdue amount."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from payer_model.policy.decide import decide
from payer_model.policy.policies import PolicyError, parse_policies
from payer_model.policy.segment import decide_all
from payer_model.policy.worklist import rank_worklist

POLICY_FILE = Path(__file__).resolve().parents[2] / "serving" / "policies.yaml"
T = pd.Timestamp("2024-05-01")


def _policies(band_steps):
    raw = yaml.safe_load(POLICY_FILE.read_text())
    for seg in raw["segments"]:
        seg["policy"]["band_steps"] = band_steps
    return parse_policies(raw)


PRE_DUE_HIGH = [{"bands": ["High"], "channel": "email", "offset_days": -5}]


def _invoices(bands=None, p_late=None):
    df = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2"],
            "customer_id": "C1",
            "invoice_date": pd.to_datetime(["2024-04-10", "2024-04-12"]),
            "due_date": pd.to_datetime(["2024-05-20", "2024-05-22"]),
            "amount": [1000.0, 500.0],
            "paid_date": pd.NaT,
        }
    )
    if bands is not None:
        df["band"] = bands
    if p_late is not None:
        df["p_late"] = p_late
    return df


def _pre_due(decision):
    return [
        (str(a.date), a.channel, a.invoice_ids)
        for a in decision.next_actions
        if a.kind == "reminder" and a.date < pd.Timestamp("2024-05-20").date()
    ]


CUSTOMER = {"customer_id": "C1", "customer_type": "company", "industry": "retail"}
RATING = {"rating": "good", "p_bad": 0.05}


def test_high_band_invoices_get_a_pre_due_reminder():
    pol = _policies(PRE_DUE_HIGH)
    d = decide(CUSTOMER, _invoices(["High", "Low"]), RATING, T, pol)
    assert _pre_due(d) == [("2024-05-15", "email", ["I1"])]
    d = decide(CUSTOMER, _invoices(["Medium", "High"]), RATING, T, pol)
    assert _pre_due(d) == [("2024-05-17", "email", ["I2"])]


def test_no_band_or_a_past_date_means_no_pre_due_reminder():
    pol = _policies(PRE_DUE_HIGH)
    assert _pre_due(decide(CUSTOMER, _invoices(), RATING, T, pol)) == []
    late = pd.Timestamp("2024-05-16")  # the pre-due date of I1 has passed
    d = decide(CUSTOMER, _invoices(["High", "Low"]), RATING, late, pol)
    assert ("2024-05-15", "email", ["I1"]) not in _pre_due(d)
    assert _pre_due(decide(CUSTOMER, _invoices(["High", "Low"]), RATING, T, _policies([]))) == []


def test_an_unknown_band_is_refused_naming_it():
    with pytest.raises(PolicyError, match="unknown band 'Severe'"):
        _policies([{"bands": ["Severe"], "channel": "email", "offset_days": -5}])


def test_worklist_ranks_by_expected_overdue_amount_where_predictions_exist():
    # C1: 1,500 not yet due but likely late; C2: 300 overdue, P(bad) high
    inv = pd.concat(
        [
            _invoices(),
            pd.DataFrame(
                {
                    "invoice_id": ["J1"],
                    "customer_id": "C2",
                    "invoice_date": pd.to_datetime(["2024-03-01"]),
                    "due_date": pd.to_datetime(["2024-04-01"]),
                    "amount": [300.0],
                    "paid_date": pd.NaT,
                }
            ),
        ],
        ignore_index=True,
    )
    tables = {"invoices": inv, "customers": None, "payments": None, "reminders": None}
    scored = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "rating": ["average", "bad"], "p_bad": [0.3, 0.9]}
    )
    pol = _policies(PRE_DUE_HIGH)
    before = rank_worklist(decide_all(tables, scored, T, pol), T)
    assert before["customer_id"].tolist() == ["C2"]  # only C2 has something overdue
    preds = pd.DataFrame(
        {"invoice_id": ["I1", "I2", "J1"], "p_late": [0.9, 0.8, 1.0], "band": ["High"] * 3}
    )
    decisions = decide_all(tables, scored, T, pol, invoice_predictions=preds)
    by_id = {d.customer_id: d for d in decisions}
    assert by_id["C1"].expected_overdue_amt == pytest.approx(1000 * 0.9 + 500 * 0.8)
    assert by_id["C2"].priority == pytest.approx(300.0)
    ranked = rank_worklist(decisions, T)
    assert ranked["customer_id"].tolist() == ["C1", "C2"]
