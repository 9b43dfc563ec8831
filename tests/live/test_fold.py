"""The fold of an invoice's events does not depend on the order they arrive in."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from payer_model.live.events import parse_event
from payer_model.live.fold import fold_invoice

D0 = date(2025, 1, 1)


def _events(pays, disputes, writeoff, reminders):
    ev = [{"event_id": "i", "type": "invoice_issued", "customer_id": "C", "invoice_id": "I",
           "invoice_date": D0.isoformat(), "due_date": (D0 + timedelta(30)).isoformat(),
           "amount": 100.0}]  # fmt: skip
    for k, (day, amount) in enumerate(pays):
        ev.append({"event_id": f"p{k}", "type": "payment_received", "customer_id": "C",
                   "payment_date": (D0 + timedelta(day)).isoformat(),
                   "allocations": [{"invoice_id": "I", "amount": amount}]})  # fmt: skip
    for k, (day, outcome) in enumerate(disputes):
        ev.append({"event_id": f"d{k}", "type": "reminder_outcome", "customer_id": "C",
                   "invoice_id": "I", "date": (D0 + timedelta(day)).isoformat(),
                   "outcome": outcome})  # fmt: skip
    for k, day in enumerate(reminders):
        ev.append({"event_id": f"r{k}", "type": "reminder_sent", "customer_id": "C",
                   "invoice_id": "I", "sent_date": (D0 + timedelta(day)).isoformat(),
                   "channel": "email"})  # fmt: skip
    if writeoff is not None:
        ev.append({"event_id": "w", "type": "write_off", "customer_id": "C", "invoice_id": "I",
                   "date": (D0 + timedelta(writeoff)).isoformat()})  # fmt: skip
    return [parse_event(e)[0] for e in ev]


days = st.integers(0, 200)


@settings(max_examples=60, deadline=None)
@given(
    pays=st.lists(st.tuples(days, st.sampled_from([10.0, 40.0, 60.0, 100.0])), max_size=4),
    disputes=st.lists(
        st.tuples(days, st.sampled_from(["dispute_opened", "dispute_resolved", "no_response"])),
        max_size=3,
    ),
    writeoff=st.one_of(st.none(), days),
    reminders=st.lists(days, max_size=3),
    order=st.randoms(use_true_random=False),
)
def test_fold_is_order_free(pays, disputes, writeoff, reminders, order):
    events = _events(pays, disputes, writeoff, reminders)
    shuffled = list(events)
    order.shuffle(shuffled)
    a, b = fold_invoice("I", events), fold_invoice("I", shuffled)
    assert a == b
    paid = a.invoice["paid_date"]
    total = sum(x for _, x in pays)
    assert (paid is not None) == (total >= 100.0 - 0.005)
    if paid is not None:  # the day the running total reaches the amount
        running = 0.0
        for day, amount in sorted(pays):
            running += amount
            if running >= 100.0 - 0.005:
                assert paid == D0 + timedelta(day)
                break
