"""``channel: auto`` / ``timing: auto`` steps validate and produce learned decisions."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from payer_model.policy.learned import choose_actions, decide_learned, playbook_action
from payer_model.policy.policies import PolicyError, load_policies, parse_policies

ROOT = Path(__file__).resolve().parents[2]
LEARNED_FILE = ROOT / "serving" / "policies-learned.yaml"
T = pd.Timestamp("2024-05-01")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(LEARNED_FILE.read_text())


def _excellent(raw: dict) -> dict:
    return next(s for s in raw["segments"] if s["name"] == "Excellent payer")


def _inv(due: str = "2024-05-04", amount: float = 20_000.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["I1"],
            "invoice_date": pd.to_datetime(["2024-04-04"]),
            "due_date": pd.to_datetime([due]),
            "amount": [amount],
            "paid_date": pd.to_datetime([None]),
        }
    )


CUSTOMER = {"customer_id": "C1", "customer_type": "company", "industry": "retail"}
GOOD = {"rating": "good", "p_bad": 0.05}


def _uplift(**values: float) -> pd.DataFrame:
    cols = {f"{ch}{t:+d}": 0.0 for ch in ("email", "sms", "call", "letter") for t in (-3, 1, 5)}
    cols.update(values)
    return pd.DataFrame(cols, index=pd.Index(["I1"], name="invoice_id"))


def test_learned_file_validates() -> None:
    ps = load_policies(LEARNED_FILE)
    step = ps.segment("Excellent payer").policy.sequence[0]
    assert step.is_auto and step.channel == "auto" and step.timing == "auto"
    assert ps.chase is not None and ps.chase.costs["call"] == 12.0


def test_auto_step_takes_best_uplift_per_cost(raw: dict) -> None:
    ps = parse_policies(raw)
    # call +1: value 0.10 x 20000 x 1 % = 20 vs cost 12 (1.7); sms +1: 0.02 -> 4 vs 1.5 (2.7)
    up = _uplift(**{"call+1": 0.10, "sms+1": 0.02})
    d = decide_learned(CUSTOMER, _inv(), GOOD, T, ps, uplift=up)
    learned = [a for a in d.next_actions if a.learned]
    assert d.learned
    assert [(a.channel, str(a.date)) for a in learned] == [("sms", "2024-05-05")]
    # the fixed human step (email +10) is still planned, and is not learned
    fixed = [a for a in d.next_actions if not a.learned]
    assert [(a.channel, str(a.date)) for a in fixed] == [("email", "2024-05-14")]


def test_no_reminder_when_nothing_is_worth_its_cost(raw: dict) -> None:
    ps = parse_policies(raw)
    up = _uplift(**{"email+1": 0.001, "call+1": 0.02})  # 0.2 < 1 and 4 < 12
    d = decide_learned(CUSTOMER, _inv(), GOOD, T, ps, uplift=up)
    assert d.learned
    assert not [a for a in d.next_actions if a.learned]
    assert any("no action worth its cost" in r for r in d.reasons)


def test_timing_already_past_is_not_chosen(raw: dict) -> None:
    ps = parse_policies(raw)
    up = _uplift(**{"sms-3": 0.05, "sms+5": 0.02})
    d = decide_learned(CUSTOMER, _inv(due="2024-05-02"), GOOD, T, ps, uplift=up)
    (a,) = [a for a in d.next_actions if a.learned]
    assert (a.channel, str(a.date)) == ("sms", "2024-05-07")  # -3 would be 2024-04-29 < T


def test_human_override_channel_wins(raw: dict) -> None:
    r = copy.deepcopy(raw)
    _excellent(r)["policy"]["sequence"][0] = {"channel": "email", "timing": "auto"}
    ps = parse_policies(r)
    up = _uplift(**{"call+1": 0.5, "email+5": 0.01, "email+1": 0.002})
    d = decide_learned(CUSTOMER, _inv(), GOOD, T, ps, uplift=up)
    (a,) = [a for a in d.next_actions if a.learned]
    assert (a.channel, str(a.date)) == ("email", "2024-05-09")


def test_without_uplift_the_auto_step_falls_back_unlearned(raw: dict) -> None:
    ps = parse_policies(raw)
    d = decide_learned(CUSTOMER, _inv(), GOOD, T, ps, uplift=None)
    assert not d.learned
    assert ("email", "2024-05-05") in [(a.channel, str(a.date)) for a in d.next_actions]
    assert not any(a.learned for a in d.next_actions)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["chase"]["costs"].update(fax=1.0), "chase.costs: unknown channel 'fax'"),
        (lambda r: r["chase"]["costs"].update(sms=-1), "chase.costs: sms: cost must be > 0"),
        (lambda r: r["chase"].update(horizon_days=30), "chase.horizon_days: must be 7 or 14"),
        (lambda r: r.pop("chase"), "sequence[0]: 'auto' needs a top-level 'chase' section"),
        (
            lambda r: _excellent(r)["policy"]["sequence"].__setitem__(
                0, {"channel": "pigeon", "timing": "auto"}
            ),
            "sequence[0].channel: unknown channel 'pigeon'",
        ),
        (
            lambda r: _excellent(r)["policy"]["sequence"].__setitem__(
                0, {"channel": "auto", "timing": "soon"}
            ),
            "sequence[0].timing: timing must be 'auto'",
        ),
    ],
)
def test_invalid_chase_settings_name_the_field(raw: dict, edit, message: str) -> None:
    r = copy.deepcopy(raw)
    edit(r)
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_policies(r, "p.yaml")


def test_vectorised_choice_and_playbook_mapping(raw: dict) -> None:
    ps = parse_policies(raw)
    up = pd.concat([_uplift(**{"call+1": 0.3}), _uplift(**{"email+1": 0.0001})])
    out = choose_actions(up, [1000.0, 1000.0], ps.chase)
    assert out.tolist() == ["none", "none"]  # 0.3 x 1000 x 1 % = 3 < 12
    out = choose_actions(up, [10_000.0, 10_000.0], ps.chase)
    assert out.tolist() == ["call+1", "none"]
    fixed = load_policies(ROOT / "serving" / "policies.yaml")
    assert playbook_action(fixed.segment("Excellent payer").policy) == "email+1"


def test_goodwill_cost_of_useless_reminders_can_veto(raw: dict) -> None:
    ps = parse_policies(raw)  # useless_cost 5 in the learned file
    up = _uplift(**{"email+1": 0.002})  # 0.002 x 100000 x 1 % = 2 vs cost 1
    p_useless = up * 0.0
    keep = choose_actions(up, [100_000.0], ps.chase, p_useless=p_useless)
    p_useless["email+1"] = 0.5  # cost 1 + 5 x 0.5 = 3.5 > 2
    veto = choose_actions(up, [100_000.0], ps.chase, p_useless=p_useless)
    assert (keep.iloc[0], veto.iloc[0]) == ("email+1", "none")


def test_decision_prices_useless_reminders_when_given(raw: dict) -> None:
    ps = parse_policies(raw)
    up = _uplift(**{"sms+1": 0.02})  # 0.02 x 20000 x 1 % = 4 vs 1.5
    assert any(
        a.learned for a in decide_learned(CUSTOMER, _inv(), GOOD, T, ps, uplift=up).next_actions
    )
    p = up * 0.0 + 0.9  # 1.5 + 5 x 0.9 = 6 > 4
    d = decide_learned(CUSTOMER, _inv(), GOOD, T, ps, uplift=up, p_useless=p)
    assert d.learned and not any(a.learned for a in d.next_actions)
