"""Policy file validation and the decision engine (DESIGN §6)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from payer_model.policy.decide import decide
from payer_model.policy.policies import PolicyError, load_policies, parse_policies

POLICY_FILE = Path(__file__).resolve().parents[2] / "serving" / "policies.yaml"
T = pd.Timestamp("2024-05-01")
DUE = "2024-05-10"  # 9 days after T: the whole sequence is ahead


@pytest.fixture(scope="module")
def policies():
    return load_policies(POLICY_FILE)


def _inv(*rows):
    cols = [
        "invoice_id",
        "invoice_date",
        "due_date",
        "amount",
        "paid_date",
        "disputed",
        "dispute_date",
    ]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("invoice_date", "due_date", "paid_date", "dispute_date"):
        df[c] = pd.to_datetime(df[c])
    return df


def _one(due=DUE, paid=None, disputed=False, dispute_date=None, amount=1000.0):
    return _inv(("I1", "2024-04-10", due, amount, paid, disputed, dispute_date))


def _cust(ctype="company", industry="retail", limit=10000.0):
    return {
        "customer_id": "C1",
        "customer_type": ctype,
        "industry": industry,
        "credit_limit": limit,
    }


def _rating(rating, p_bad=None, **feats):
    p = {"good": 0.05, "average": 0.2, "bad": 0.7, "unrated": None}[rating]
    return {"rating": rating, "p_bad": p if p_bad is None else p_bad, **feats}


def _schedule(decision):
    return [(str(a.date), a.kind, a.channel or a.to) for a in decision.next_actions]


def test_default_file_reproduces_design_table(policies):
    names = [s.name for s in policies.segments]
    assert set(names) == {"Excellent payer", "Occasional delay", "High risk", "New / not rated"}
    tones = {s.name: s.policy.tone for s in policies.segments}
    assert tones == {
        "Excellent payer": "friendly",
        "Occasional delay": "neutral",
        "High risk": "firm",
        "New / not rated": "neutral",
    }
    credit = {s.name: s.policy.credit.action for s in policies.segments}
    assert credit == {
        "Excellent payer": "none",
        "Occasional delay": "review",
        "High risk": "reduce_limit",
        "New / not rated": "limit_cap",
    }
    assert len(policies.policy_version) == 12


def test_excellent_payer_schedule(policies):
    d = decide(_cust(), _one(), _rating("good"), T, policies)
    assert d.segment == "Excellent payer"
    # no pre-due reminder; email +3, +10
    assert _schedule(d) == [
        ("2024-05-13", "reminder", "email"),
        ("2024-05-20", "reminder", "email"),
    ]
    assert d.credit.action == "none" and not d.requires_human_review


def test_occasional_delay_schedule(policies):
    d = decide(_cust(), _one(), _rating("average"), T, policies)
    assert d.segment == "Occasional delay"
    assert _schedule(d) == [
        ("2024-05-07", "reminder", "email"),
        ("2024-05-11", "reminder", "email"),
        ("2024-05-17", "reminder", "email"),
        ("2024-05-24", "reminder", "sms"),
        ("2024-05-31", "reminder", "call"),
        ("2024-06-14", "escalation", "collector"),
    ]
    assert d.credit.action == "review"


def test_high_risk_schedule(policies):
    d = decide(_cust(), _one(), _rating("bad"), T, policies)
    assert d.segment == "High risk" and d.tone == "firm"
    assert _schedule(d) == [
        ("2024-05-03", "reminder", "email"),
        ("2024-05-09", "reminder", "email"),
        ("2024-05-10", "reminder", "sms"),
        ("2024-05-13", "reminder", "call"),
        ("2024-05-20", "escalation", "collector"),
        ("2024-06-09", "escalation", "collections_agency"),
    ]
    esc = d.next_actions[-2]
    assert esc.history is not None and esc.next_step
    # company: the reduction is automatic, with reasons
    assert d.credit.action == "reduce_limit" and d.credit.new_limit == 5000.0
    assert d.credit.automatic and not d.requires_human_review
    assert any("rated bad" in r for r in d.credit.reasons)


def test_new_customer_standard_sequence(policies):
    d = decide(_cust(), _one(), _rating("unrated"), T, policies)
    assert d.segment == "New / not rated"
    assert [(x[0], x[2]) for x in _schedule(d)] == [
        ("2024-05-11", "email"),
        ("2024-05-17", "email"),
        ("2024-05-24", "email"),
        ("2024-05-31", "sms"),
        ("2024-06-09", "call"),
        ("2024-06-24", "collector"),
    ]
    assert d.credit.action == "limit_cap" and d.credit.new_limit == 5000.0
    # unrated: priority uses the file's prior P(bad) only once something is overdue
    assert d.priority == 0.0


def test_good_but_worsening_is_occasional_delay(policies):
    d = decide(_cust(), _one(), _rating("good", trend_days_late=15.0), T, policies)
    assert d.segment == "Occasional delay"
    assert "trend_days_late>10" in d.rule


def test_payment_confirmed_stops_sequence(policies):
    d = decide(_cust(), _one(paid="2024-04-30"), _rating("bad"), T, policies)
    assert d.next_actions == [] and d.stopped == {"I1": "payment_confirmed"}
    # a payment on or after as_of is not known yet
    d2 = decide(_cust(), _one(paid="2024-05-01"), _rating("bad"), T, policies)
    assert d2.next_actions and not d2.stopped


def test_dispute_stops_sequence(policies):
    d = decide(
        _cust(), _one(disputed=True, dispute_date="2024-04-20"), _rating("average"), T, policies
    )
    assert d.next_actions == [] and d.stopped == {"I1": "dispute_open"}
    # a dispute opened later is unknown at T
    d2 = decide(
        _cust(), _one(disputed=True, dispute_date="2024-06-01"), _rating("average"), T, policies
    )
    assert d2.next_actions


def test_promise_to_pay_stops_then_resumes(policies):
    rem = pd.DataFrame(
        {
            "invoice_id": ["I1"],
            "sent_date": pd.to_datetime(["2024-04-28"]),
            "channel": ["call"],
            "outcome": ["promise_to_pay"],
        }
    )
    d = decide(_cust(), _one(due="2024-04-01"), _rating("average"), T, policies, rem)
    assert d.stopped == {"I1": "promise_to_pay"}
    later = decide(
        _cust(), _one(due="2024-04-01"), _rating("average"), "2024-05-20", policies, rem
    )
    assert later.next_actions and not later.stopped


def test_already_sent_reminders_are_skipped(policies):
    rem = pd.DataFrame(
        {
            "invoice_id": ["I1", "I1"],
            "sent_date": pd.to_datetime(["2024-05-07", "2024-05-11"]),
            "channel": ["email", "email"],
        }
    )
    d = decide(_cust(), _one(), _rating("average"), "2024-05-12", policies, rem)
    reminders = [(str(a.date), a.channel) for a in d.next_actions if a.kind == "reminder"]
    assert reminders == [("2024-05-17", "email"), ("2024-05-24", "sms"), ("2024-05-31", "call")]


def test_missed_steps_collapse_into_one_catch_up(policies):
    # 20 days overdue at T, nothing sent: one contact today (the latest missed step), not five
    d = decide(_cust(), _one(due="2024-04-11"), _rating("average"), T, policies)
    today = [a for a in d.next_actions if str(a.date) == "2024-05-01"]
    assert len(today) == 1 and today[0].channel == "sms" and today[0].catch_up
    assert d.overdue_amt == 1000.0
    assert d.priority == pytest.approx(0.2 * 1000.0)


def test_priority_is_p_bad_times_overdue(policies):
    inv = _inv(
        ("I1", "2024-03-01", "2024-04-01", 1000.0, None, False, None),
        ("I2", "2024-04-20", "2024-05-20", 500.0, None, False, None),
    )
    d = decide(_cust(), inv, _rating("bad", p_bad=0.6), T, policies)
    assert d.overdue_amt == 1000.0 and d.open_amt == 1500.0
    assert d.priority == pytest.approx(600.0)


@pytest.mark.parametrize("ctype", ["sole_trader", "individual"])
def test_natural_persons_need_human_review_for_holds(policies, ctype):
    inv = _one(due="2024-03-15")  # 47 days overdue: hold_when oldest_overdue_days >= 30
    d = decide(_cust(ctype), inv, _rating("bad", oldest_overdue_days=47), T, policies)
    assert d.credit.action == "hold_new_orders"
    assert d.requires_human_review and not d.credit.automatic
    assert any("natural person" in r for r in d.credit.reasons)
    company = decide(_cust("company"), inv, _rating("bad", oldest_overdue_days=47), T, policies)
    assert company.credit.action == "hold_new_orders" and company.credit.automatic


def test_tone_by_industry(policies):
    d = decide(_cust(industry="public_sector"), _one(), _rating("average"), T, policies)
    assert d.tone == "friendly"


# ------------------------------------------------------------------ file validation
def _raw():
    return yaml.safe_load(POLICY_FILE.read_text())


def _error(raw, tmp_path):
    f = tmp_path / "policies.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(PolicyError) as exc:
        load_policies(f)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(str(f))
    return msg


def test_typo_key_is_one_line_error(tmp_path):
    raw = _raw()
    raw["segments"][1]["policy"]["tonee"] = raw["segments"][1]["policy"].pop("tone")
    msg = _error(raw, tmp_path)
    assert "segments[1].policy: unknown key 'tonee'" in msg


def test_unknown_channel_is_one_line_error(tmp_path):
    raw = _raw()
    raw["segments"][2]["policy"]["sequence"][1]["channel"] = "fax"
    msg = _error(raw, tmp_path)
    assert msg.endswith(
        "segments[2].policy.sequence[1].channel: unknown channel 'fax' "
        "(allowed: email, sms, call, letter)"
    )


def test_unknown_rule_field(tmp_path):
    raw = _raw()
    raw["segments"][1]["rules"][0]["overdue_amount"] = {"gt": 1}
    assert "segments[1].rules[0]" in _error(raw, tmp_path)


def test_rule_after_catch_all_is_error(tmp_path):
    raw = _raw()
    raw["segments"][0]["rules"].append({})
    msg = _error(raw, tmp_path)
    assert "segments[1].rules[0]" in msg and "segments[0].rules[1]" in msg
    assert "catch-all" in msg


def test_identical_rule_is_error(tmp_path):
    raw = _raw()
    raw["segments"][3]["rules"] = [{"rating": "bad"}]
    msg = _error(raw, tmp_path)
    assert "segments[3].rules[0]" in msg and "segments[1].rules[0]" in msg
    assert "identical" in msg


def test_broader_earlier_rule_shadows(tmp_path):
    raw = _raw()
    raw["segments"][2]["rules"].insert(0, {"rating": "good"})
    msg = _error(raw, tmp_path)
    assert "segments[2].rules[2]" in msg and "segments[2].rules[0]" in msg


def test_policy_version_ignores_comments_and_tracks_content(tmp_path):
    base = load_policies(POLICY_FILE).policy_version
    f = tmp_path / "p.yaml"
    f.write_text("# a comment\n" + POLICY_FILE.read_text())
    assert load_policies(f).policy_version == base
    raw = _raw()
    raw["segments"][0]["policy"]["max_reminders"] = 3
    assert parse_policies(raw).policy_version != base


def test_missing_file():
    with pytest.raises(PolicyError, match="not found"):
        load_policies("nope.yaml")


# ------------------------------------------------------------------ templates and audit
@pytest.mark.parametrize("tone_rating", ["good", "average", "bad"])
@pytest.mark.parametrize("channel", ["email", "sms", "letter", "call"])
def test_render_message_lists_open_invoices(policies, tone_rating, channel):
    from payer_model.policy.templates import render_message

    inv = _inv(
        ("I1", "2024-03-01", "2024-04-01", 1000.0, None, False, None),
        ("I2", "2024-03-01", "2024-04-05", 250.5, None, True, "2024-04-10"),
    )
    d = decide(_cust(), inv, _rating(tone_rating), T, policies)
    text = render_message(d, {"name": "Acme Ltd"}, inv, channel)
    assert "I1" in text and "1000.00" in text
    assert "I2" not in text  # disputed: stopped, not dunned
    if channel != "call":
        assert "Acme Ltd" in text


def test_tone_changes_wording(policies):
    from payer_model.policy.templates import render_message

    inv = _one(due="2024-04-01")
    firm = render_message(decide(_cust(), inv, _rating("bad"), T, policies), {}, inv, "email")
    friendly = render_message(decide(_cust(), inv, _rating("good"), T, policies), {}, inv, "email")
    assert "immediate payment" in firm and "friendly" in friendly


def test_audit_store_roundtrip_prune_and_no_pii(tmp_path, policies):
    from payer_model.adapters.audit import AuditStore

    store = AuditStore(tmp_path / "audit.db")
    d = decide(_cust(), _one(), _rating("bad"), T, policies)
    n = store.record_decisions(
        [
            {
                "customer_id": d.customer_id,
                "as_of": d.as_of,
                "segment": d.segment,
                "policy_version": d.policy_version,
                "model_version": "3",
                "reasons": d.reasons,
                "payload": {**d.model_dump(mode="json"), "name": "Acme Ltd", "email": "a@b.c"},
            }
        ]
    )
    assert n == 1
    store.record_decisions(
        [{"customer_id": "C2", "as_of": "2024-05-01", "created_at": "2000-01-01T00:00:00+00:00"}],
        source="api",
    )
    rows = store.query("C1")
    assert len(rows) == 1 and rows[0]["segment"] == "High risk"
    assert rows[0]["source"] == "batch" and rows[0]["reasons"] == d.reasons
    assert "name" not in rows[0]["payload"] and "email" not in rows[0]["payload"]
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("audit.db*"))  # db and its WAL
    assert b"High risk" in raw and b"Acme Ltd" not in raw and b"a@b.c" not in raw
    import sqlite3

    mode = sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.prune(older_than_days=30) == 1
    assert [r["customer_id"] for r in store.query()] == ["C1"]


# ------------------------------------------------------------------ CLI (no champion needed)
def test_cli_policy_validate_and_show(tmp_path):
    from typer.testing import CliRunner

    from payer_model.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["policy", "validate", str(POLICY_FILE)])
    assert res.exit_code == 0, res.output
    assert load_policies(POLICY_FILE).policy_version in res.output
    out = tmp_path / "show.json"
    res = runner.invoke(app, ["policy", "show", "--policy", str(POLICY_FILE), "--json", str(out)])
    assert res.exit_code == 0, res.output
    import json

    shown = json.loads(out.read_text())
    assert [s["name"] for s in shown["segments"]][-1] == "Excellent payer"

    raw = _raw()
    raw["segments"][2]["policy"]["sequence"][1]["channel"] = "fax"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    res = runner.invoke(app, ["policy", "validate", str(bad)])
    assert res.exit_code == 2
    assert "unknown channel 'fax'" in res.output and "Traceback" not in res.output


def test_only_furthest_due_escalation_is_kept(policies):
    # 40 days overdue, high risk: collector (+10) and agency (+30) both past -> agency today
    d = decide(_cust(), _one(due="2024-03-22"), _rating("bad"), T, policies)
    esc = [a for a in d.next_actions if a.kind == "escalation"]
    assert [(str(a.date), a.to) for a in esc] == [("2024-05-01", "collections_agency")]
    assert esc[0].amount == 1000.0 and esc[0].history["oldest_overdue_days"] == 40


@pytest.mark.parametrize(
    ("cond", "value", "expected"),
    [
        ({"gte": 0.5}, 0.5, True),
        ({"gt": 0.5}, 0.5, False),
        ({"lt": 3}, None, False),
        ({"lt": 3}, float("nan"), False),
        ({"in": ["a", "b"]}, "b", True),
        ({"not_in": ["a"]}, "a", False),
        ({"eq": "good"}, "good", True),
        ({"lte": 1}, "x", False),
    ],
)
def test_scalar_match_agrees_with_vectorised(cond, value, expected):
    from payer_model.policy.rules import Cond

    c = Cond.model_validate(cond)
    assert c.matches(value) is expected
    assert bool(c.mask(pd.Series([value], dtype=object)).iloc[0]) is expected


def test_decide_all_nets_partial_payments(policies):
    from payer_model.policy.segment import decide_all

    inv = _inv(
        ("I1", "2024-03-01", "2024-04-01", 1000.0, None, False, None),
        ("I2", "2024-03-01", "2024-04-01", 300.0, None, False, None),
    )
    inv["customer_id"] = "C1"
    pay = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I1"],
            "amount": [400.0, 300.0, 600.0],
            "payment_date": pd.to_datetime(["2024-04-10", "2024-04-12", "2024-05-03"]),
        }
    )
    tables = {
        "invoices": inv,
        "payments": pay,
        "reminders": None,
        "customers": pd.DataFrame([_cust() | {"name": "Acme", "email": "a@b.c"}]),
    }
    scored = pd.DataFrame([{"customer_id": "C1", **_rating("bad", p_bad=0.5)}])
    (d,) = decide_all(tables, scored, T, policies)
    assert d.overdue_amt == 600.0 and d.priority == 300.0  # 1000 - 400; I2 fully paid
    assert d.stopped == {"I2": "payment_confirmed"}


def test_written_off_invoice_gets_no_reminder(policies):
    # the shared as-of rule (features.asof): written off before T is not open at T
    inv = _inv(
        ("I1", "2024-03-01", "2024-04-01", 1000.0, None, False, None),
        ("I2", "2024-03-01", "2024-04-01", 500.0, None, False, None),
    )
    inv["written_off_date"] = pd.to_datetime(["2024-04-20", "2024-05-01"])  # I2: on T, still open
    inv["customer_id"] = "C1"
    d = decide(_cust(), inv, _rating("bad", p_bad=0.5), T, policies)
    reminded = {i for a in d.next_actions for i in a.invoice_ids}
    assert reminded == {"I2"} and "I1" not in d.stopped
    assert d.overdue_amt == 500.0 and d.priority == 250.0
    from payer_model.policy.segment import decide_all

    tables = {"invoices": inv, "payments": None, "reminders": None, "customers": None}
    scored = pd.DataFrame([{"customer_id": "C1", **_rating("bad", p_bad=0.5)}])
    (d_all,) = decide_all(tables, scored, T, policies)
    assert {i for a in d_all.next_actions for i in a.invoice_ids} == {"I2"}
    assert d_all.overdue_amt == 500.0


def test_open_rule_is_the_shared_as_of_rule(policies):
    from payer_model.features.asof import is_open_at
    from payer_model.policy.segment import open_invoices_at

    rows = [
        ("A", "2024-04-01", None, None),  # open
        ("B", "2024-05-01", None, None),  # issued on T: unknown
        ("C", "2024-04-01", "2024-04-30", None),  # paid before T
        ("D", "2024-04-01", "2024-05-01", None),  # paid on T: still open
        ("E", "2024-04-01", None, "2024-04-30"),  # written off before T
        ("F", "2024-04-01", None, "2024-05-02"),  # written off later
    ]
    inv = pd.DataFrame(
        rows, columns=["invoice_id", "invoice_date", "paid_date", "written_off_date"]
    )
    for c in ("invoice_date", "paid_date", "written_off_date"):
        inv[c] = pd.to_datetime(inv[c])
    inv = inv.assign(customer_id="C1", due_date=inv["invoice_date"], amount=1.0)
    got = set(open_invoices_at({"invoices": inv, "payments": None}, T)["invoice_id"])
    want = {
        r[0]
        for r in rows
        if is_open_at(
            pd.Timestamp(r[1]).date(),
            pd.Timestamp(r[2]).date() if r[2] else None,
            pd.Timestamp(r[3]).date() if r[3] else None,
            T.date(),
        )
    }
    assert got == want == {"A", "D", "F"}
