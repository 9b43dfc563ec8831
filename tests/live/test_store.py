"""Ledger store on SQLite and PostgreSQL: idempotency, quarantine, atomic batches, order."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from payer_model.adapters import ledger_tables as t
from payer_model.adapters.ledger import LedgerStore


def inv(eid, iid, cid="C1", day="2025-01-10", due="2025-02-09", amount=100.0, **kw):
    return {
        "event_id": eid,
        "type": "invoice_issued",
        "customer_id": cid,
        "invoice_id": iid,
        "invoice_date": day,
        "due_date": due,
        "amount": amount,
        **kw,
    }


def pay(eid, cid, when, *allocs):
    return {
        "event_id": eid,
        "type": "payment_received",
        "customer_id": cid,
        "payment_date": when,
        "allocations": [{"invoice_id": i, "amount": a} for i, a in allocs],
    }


@pytest.fixture
def store(ledger_url):
    s = LedgerStore(ledger_url)
    yield s
    s.dispose()


def test_migrations_create_the_tables_the_queries_use(store):
    insp = sa.inspect(store.engine)
    for name, table in t.metadata.tables.items():
        cols = {c["name"] for c in insp.get_columns(name)}
        assert cols == {c.name for c in table.columns}, name
    LedgerStore(store.url).dispose()  # a second open upgrades nothing and fails nothing


def test_replayed_batch_changes_nothing(store):
    batch = [
        inv("e1", "I1"),
        inv("e2", "I2", amount=50.0),
        pay("e3", "C1", "2025-02-01", ("I1", 100.0)),
    ]
    first = store.append(batch)
    assert sorted(first.accepted) == ["e1", "e2", "e3"]
    snapshot = {n: store.count(n) for n in ("ledger_events", "invoices", "payments")}
    again = store.append(batch)
    assert again.accepted == [] and sorted(again.duplicates) == ["e1", "e2", "e3"]
    assert {n: store.count(n) for n in snapshot} == snapshot
    reused = store.append([inv("e1", "I9")])  # same id, other content: refused, not applied
    assert reused.quarantined[0]["reason"].startswith("event_id_reused")


def test_bad_events_are_quarantined_with_reasons_and_good_ones_kept(store):
    store.append([inv("e0", "I0", cid="C2")])
    res = store.append(
        [
            inv("ok", "I1"),
            inv("zero", "I2", amount=0),
            inv("due", "I3", due="2025-01-01"),
            pay("other", "C1", "2025-02-01", ("I0", 10.0)),
            pay("early", "C2", "2024-12-01", ("I0", 10.0)),
            {"event_id": "t", "type": "invoice_deleted", "customer_id": "C1"},
            {
                "event_id": "p",
                "type": "reminder_outcome",
                "customer_id": "C1",
                "invoice_id": "I1",
                "date": "2025-02-01",
                "outcome": "promise_to_pay",
            },
            {
                "event_id": "neg",
                "type": "payment_received",
                "customer_id": "C1",
                "payment_date": "2025-02-01",
                "allocations": [{"invoice_id": "I1", "amount": -5}],
            },
        ]
    )
    assert res.accepted == ["ok"]
    reasons = {q["event_id"]: q["reason"].split(":")[0] for q in res.quarantined}
    assert reasons == {
        "zero": "zero_amount",
        "due": "due_before_invoice",
        "other": "customer_mismatch",
        "early": "payment_before_invoice",
        "t": "unknown_event_type",
        "p": "missing_promise_date",
        "neg": "non_positive_amount",
    }
    stored = {q["event_id"]: q for q in store.quarantined()}
    assert set(stored) == set(reasons) and all(q["reason"] for q in stored.values())
    assert store.count("invoices") == 2


def test_a_failing_batch_commits_nothing(store, monkeypatch):
    import payer_model.adapters.ledger as ledger

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger, "fold_customer", broken)
    with pytest.raises(RuntimeError):
        store.append([inv("e1", "I1"), pay("e2", "C1", "2025-02-01", ("I1", 100.0))])
    assert store.count("ledger_events") == 0 and store.count("invoices") == 0


def test_out_of_order_events_fold_by_their_own_dates(store):
    events = [
        {
            "event_id": "w",
            "type": "write_off",
            "customer_id": "C1",
            "invoice_id": "I1",
            "date": "2025-06-01",
        },
        pay("p2", "C1", "2025-03-05", ("I1", 60.0)),
        {
            "event_id": "d",
            "type": "reminder_outcome",
            "customer_id": "C1",
            "invoice_id": "I1",
            "date": "2025-02-20",
            "outcome": "dispute_opened",
        },
        pay("p1", "C1", "2025-03-01", ("I1", 40.0)),
        {
            "event_id": "c",
            "type": "invoice_changed",
            "customer_id": "C1",
            "invoice_id": "I1",
            "date": "2025-01-15",
            "due_date": "2025-02-15",
        },
        inv("i", "I1"),
    ]
    for e in events:  # one event per batch, the invoice last: the others wait for it
        assert store.append([e]).quarantined == []
    tables = store.tables()
    row = tables["invoices"].iloc[0]
    assert row["due_date"].date() == date(2025, 2, 15)
    assert row["paid_date"].date() == date(2025, 3, 5)  # the day the allocations reach 100
    assert row["dispute_date"].date() == date(2025, 2, 20) and bool(row["disputed"])
    assert row["written_off_date"].date() == date(2025, 6, 1)
    assert sorted(tables["payments"]["amount"]) == [40.0, 60.0]


def test_contact_email_only_addresses_messages(store):
    store.append(
        [
            {
                "event_id": "r",
                "type": "customer_registered",
                "customer_id": "C1",
                "date": "2025-01-01",
                "industry": "retail",
                "contact_email": "ap@example.org",
            }
        ]
    )
    assert store.contact("C1") == "ap@example.org"
    with store.engine.connect() as con:
        payloads = [json.loads(p) for p in con.scalars(sa.select(t.events.c.payload))]
    assert payloads and all("contact_email" not in p for p in payloads)
    bad = store.append(
        [
            {
                "event_id": "r2",
                "type": "customer_registered",
                "customer_id": "C2",
                "date": "2025-01-01",
                "credit_limit": -1,
                "contact_email": "ap2@example.org",
            }
        ]
    )
    assert bad.quarantined and store.contact("C2") is None
    assert "example.org" not in json.dumps([q["payload"] for q in store.quarantined()])
    assert "example.org" not in json.dumps(
        store.tables()["customers"].to_dict("records"), default=str
    )


def test_a_credit_note_is_its_own_row_and_a_promise_is_kept_on_the_reminder(store):
    store.append(
        [
            inv("i", "I1"),
            {
                "event_id": "cr",
                "type": "invoice_credited",
                "customer_id": "C1",
                "invoice_id": "I1",
                "credit_note_id": "CN1",
                "date": "2025-01-20",
                "amount": 30.0,
            },
            {
                "event_id": "r",
                "type": "reminder_sent",
                "customer_id": "C1",
                "invoice_id": "I1",
                "sent_date": "2025-02-12",
                "channel": "email",
            },
            {
                "event_id": "o",
                "type": "reminder_outcome",
                "customer_id": "C1",
                "invoice_id": "I1",
                "date": "2025-02-13",
                "outcome": "promise_to_pay",
                "promise_date": "2025-02-20",
            },
        ]
    )
    inv_rows = store.tables()["invoices"].set_index("invoice_id")
    assert inv_rows.loc["CN1", "document_type"] == "credit_note"
    assert inv_rows.loc["CN1", "amount"] == -30.0 and inv_rows.loc["I1", "amount"] == 100.0
    (rem,) = store.rows()["reminders"]
    assert rem["outcome"] == "promise_to_pay" and rem["promise_date"] == date(2025, 2, 20)


def test_concurrent_writers_share_one_ledger(ledger_url):
    """Four writers (as API instances would) append overlapping batches at once."""
    from concurrent.futures import ThreadPoolExecutor

    LedgerStore(ledger_url).dispose()  # migrated once; every writer opens its own store
    batches = [[inv(f"e{k}", f"I{k}", cid=f"C{k % 3}") for k in range(w, w + 40)]
               for w in (0, 10, 20, 30)]  # fmt: skip

    def write(batch):
        s = LedgerStore(ledger_url)
        try:
            return s.append(batch)
        finally:
            s.dispose()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(write, batches))
    accepted = sorted(e for r in results for e in r.accepted)
    assert accepted == sorted(f"e{k}" for k in range(70))  # each event stored exactly once
    assert sum(len(r.duplicates) for r in results) == 160 - 70
    s = LedgerStore(ledger_url)
    assert s.count("ledger_events") == 70 and s.count("invoices") == 70
    assert s.count("customers") == 3
    s.dispose()


def test_columns_hold_the_same_values_as_rows(store, live_tables):
    """The refresh's column reads equal the row reads, table by table, and so do the frames."""
    from payer_model.live.convert import events_from_tables
    from payer_model.live.tables import (
        contract_frames,
        frames_from_columns,
        records_from_columns,
        records_from_rows,
    )

    store.append(events_from_tables(live_tables))
    ids = store.customer_ids()[:25]
    rows, cols = store.rows(ids), store.columns(ids)
    assert rows["invoices"] and rows["payments"] and rows["reminders"]
    for name, table_rows in rows.items():
        as_rows = [dict(zip(cols[name], v, strict=True)) for v in zip(*cols[name].values())]
        key = next(iter(cols[name]))  # the primary key comes first
        assert sorted(as_rows, key=lambda r: r[key]) == sorted(table_rows, key=lambda r: r[key])
    for name, frame in frames_from_columns(cols).items():
        other = contract_frames(rows)[name]
        order = list(frame.columns[:2])
        pd.testing.assert_frame_equal(
            frame.sort_values(order).reset_index(drop=True),
            other.sort_values(order).reset_index(drop=True),
        )
    by_id = {r.customer_id: r for r in records_from_rows(rows)}
    assert {r.customer_id: r for r in records_from_columns(cols)} == by_id
