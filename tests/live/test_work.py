"""People-side tables: the review queue (who, when, why, audited) and stable assignments."""

from __future__ import annotations

from datetime import date

import pytest

from payer_model.adapters import ledger_work as work
from payer_model.adapters.audit import AuditStore
from payer_model.adapters.ledger import LedgerStore
from payer_model.jobs.live import review_items
from payer_model.jobs.live_ops import assign_collectors, decide_review


@pytest.fixture
def store(tmp_path):
    s = LedgerStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield s
    s.dispose()


def _state(cid, review=True, priority=0.0):
    return {
        "customer_id": cid,
        "as_of": date(2025, 3, 1),
        "rating": "bad",
        "p_good": 0.1,
        "p_average": 0.2,
        "p_bad": 0.7,
        "score": 20.0,
        "segment": "High risk",
        "reasons": [],
        "features": {},
        "model_version": "1",
        "policy_version": "p",
        "decision": {
            "priority": priority,
            "credit": {
                "action": "hold_new_orders",
                "requires_human_review": review,
                "reasons": [],
            },
        },
    }


def test_review_queue_records_who_when_why_once(store, tmp_path):
    rows = [_state("C1"), _state("C2", review=False)]
    items = review_items(rows)
    assert [i["customer_id"] for i in items] == ["C1"]
    assert work.add_reviews(store, items) == 1
    assert work.add_reviews(store, items) == 0  # the same action on the same day once
    (pending,) = work.list_reviews(store)
    audit = AuditStore(tmp_path / "audit.db")
    with pytest.raises(ValueError, match="--by"):
        decide_review(store, pending["id"], True, "", "because", audit)
    done = decide_review(store, pending["id"], False, "kim", "customer paid in full", audit)
    assert done["status"] == "rejected" and done["decided_by"] == "kim" and done["decided_at"]
    assert work.list_reviews(store) == []
    with pytest.raises(ValueError, match="no pending review"):
        decide_review(store, pending["id"], True, "kim", "again", audit)
    (row,) = audit.query(customer_id="C1")
    assert row["source"] == "review" and row["payload"]["why"] == "customer paid in full"


def test_assignment_is_stable_and_respects_capacity(store):
    work.save_states(store, [_state(f"C{k}", priority=float(k)) for k in range(5)])
    first = assign_collectors(store, ["ann", "bob"], capacity=2)
    assert len(first) == 4 and sorted(first.values()) == ["ann", "ann", "bob", "bob"]
    assert "C0" not in first  # lowest priority waits: both collectors are full
    work.assign(store, {"C4": "cat"}, "moved by a person")
    again = assign_collectors(store, ["ann", "bob", "cat"], capacity=2)
    assert again == {"C0": "ann"}  # the slot C4 freed (ties by name)
    now = work.assignments(store)
    assert {c: now[c] for c in first if c != "C4"} == {c: v for c, v in first.items() if c != "C4"}


def test_invoices_at_risk_follow_the_as_of_rule():
    from payer_model.jobs.live_ops import invoices_at_risk

    d = date
    base = {
        "document_type": "invoice",
        "written_off_date": None,
        "invoice_date": d(2025, 1, 1),
        "due_date": d(2025, 1, 31),
        "amount": 100.0,
        "paid_date": None,
    }
    rows = {
        "invoices": [
            {**base, "invoice_id": "paid", "paid_date": d(2025, 2, 10)},
            {**base, "invoice_id": "on_t", "paid_date": d(2025, 3, 1)},
            {**base, "invoice_id": "part"},
            {**base, "invoice_id": "cn", "document_type": "credit_note", "amount": -20.0},
            {**base, "invoice_id": "later", "invoice_date": d(2025, 3, 1)},
        ],
        "payments": [
            {"invoice_id": "part", "payment_date": d(2025, 2, 1), "amount": 30.0},
            {"invoice_id": "part", "payment_date": d(2025, 3, 1), "amount": 70.0},
        ],
    }
    out = invoices_at_risk(rows, d(2025, 3, 1), {"part": "promise_to_pay"})
    assert [r["invoice_id"] for r in out] == ["on_t", "part"]
    assert out[1]["open_amount"] == 70.0 and out[1]["stopped"] == "promise_to_pay"
    assert out[0]["days_overdue"] == 29


def test_a_person_moves_a_customer_and_the_move_is_kept(store, tmp_path):
    from payer_model.jobs.live_ops import move_customer

    work.save_states(store, [_state("C1"), _state("C2")])
    assign_collectors(store, ["ann"], capacity=5)
    audit = AuditStore(tmp_path / "audit.db")
    with pytest.raises(ValueError, match="--by"):
        move_customer(store, "C1", "bob", "", "x", audit)
    with pytest.raises(ValueError, match="not in the ledger"):
        move_customer(store, "C9", "bob", "kim", "x", audit)
    out = move_customer(store, "C1", "bob", "kim", "speaks Italian", audit)
    assert out == {"customer_id": "C1", "from": "ann", "to": "bob"}
    assert assign_collectors(store, ["ann"], capacity=5) == {}
    assert work.assignments(store) == {"C1": "bob", "C2": "ann"}
    (row,) = audit.query(customer_id="C1")
    assert row["source"] == "assignment" and row["payload"]["by"] == "kim"
