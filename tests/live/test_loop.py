"""The live loop: alerts deduplicated, a payment cancels the invoice's pending messages,
SMTP delivery against a local aiosmtpd server, webhooks against a local http.server."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from payer_model.adapters import ledger_work as work
from payer_model.adapters.audit import AuditStore
from payer_model.adapters.ledger import LedgerStore
from payer_model.jobs.live import Delivery, LiveLoop
from payer_model.live.convert import events_from_tables
from payer_model.live.notify import risk_alert


@pytest.fixture
def hook():
    """A local webhook that keeps every JSON body it receives."""
    got: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/hook", got
    srv.shutdown()


@pytest.fixture
def smtp():
    """A local SMTP server (aiosmtpd) that keeps every message it receives."""
    from aiosmtpd.controller import Controller

    got: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, got
    ctl.stop()


@pytest.fixture
def loop(tmp_path, scorer, live_tables, live_as_of):
    lp = LiveLoop(
        LedgerStore(f"sqlite:///{tmp_path / 'ledger.db'}"),
        scorer,
        audit=AuditStore(tmp_path / "audit.db"),
    )
    lp.ingest(events_from_tables(live_tables), as_of=live_as_of)
    yield lp
    lp.store.dispose()


def test_risk_alert_rules():
    before = {
        "customer_id": "C",
        "as_of": "2025-01-01",
        "rating": "good",
        "segment": "A",
        "p_bad": 0.05,
    }
    same = {**before, "p_bad": 0.10}
    assert risk_alert(None, before, p_bad_step=0.1) is None
    assert risk_alert(before, same, p_bad_step=0.1) is None
    rise = risk_alert(before, {**before, "p_bad": 0.2}, p_bad_step=0.1, event_ids=["e2", "e1"])
    assert rise["kinds"] == "p_bad" and rise["event_ids"] == ["e1", "e2"]
    moved = risk_alert(
        before,
        {
            **before,
            "rating": "bad",
            "segment": "B",
            "p_bad": 0.7,
            "reasons": [{"code": "X", "text": "paid late"}],
        },
        p_bad_step=0.1,
    )
    assert moved["kinds"] == "rating,segment,p_bad" and moved["reasons"] == ["paid late"]
    assert moved["before"]["rating"] == "good" and moved["after"]["rating"] == "bad"


def _late_history(cid, start, n=6):
    """``n`` invoices of ``cid`` each paid 120 days after its due date."""
    out = []
    for k in range(n):
        day = start + timedelta(days=10 * k)
        iid = f"LATE-{cid}-{k}"
        out.append(
            {
                "event_id": f"late-i{k}",
                "type": "invoice_issued",
                "customer_id": cid,
                "invoice_id": iid,
                "invoice_date": day.isoformat(),
                "due_date": (day + timedelta(days=30)).isoformat(),
                "amount": 50000.0,
            }
        )
        out.append(
            {
                "event_id": f"late-p{k}",
                "type": "payment_received",
                "customer_id": cid,
                "payment_date": (day + timedelta(days=150)).isoformat(),
                "allocations": [{"invoice_id": iid, "amount": 50000.0}],
            }
        )
    return out


def test_one_alert_per_change_with_its_events_and_the_webhook(loop, live_as_of, hook):
    url, got = hook
    loop.delivery = Delivery(alert_webhook=url)
    states = work.load_states(loop.store)
    cid = next(c for c, s in sorted(states.items()) if s["rating"] == "good")
    events = _late_history(cid, live_as_of - timedelta(days=400))
    out = loop.ingest(events, as_of=live_as_of)
    assert out["alerts"] == 1
    (alert,) = work.list_alerts(loop.store)
    assert alert["customer_id"] == cid and alert["before"]["rating"] == "good"
    assert alert["after"]["rating"] != "good" and alert["reasons"]
    assert set(alert["event_ids"]) == {e["event_id"] for e in events}
    assert len(got) == 1 and got[0]["alerts"][0]["customer_id"] == cid
    # the same change computed again (a rescore, a replay) is not a second alert
    assert loop.rescore({cid: ["again"]}, live_as_of) == []
    assert loop.ingest(events, as_of=live_as_of)["alerts"] == 0
    assert len(work.list_alerts(loop.store)) == 1 and len(got) == 1


def test_payment_cancels_the_pending_messages_of_its_invoice(loop, live_as_of):
    assert loop.refresh(live_as_of)["planned_messages"] > 0
    pending = work.list_messages(loop.store, status="pending")
    target = pending[0]
    iid = target["invoice_ids"][0]
    others = [m for m in pending if iid not in m["invoice_ids"]]
    assert others
    tables = loop.store.tables([target["customer_id"]])
    amount = float(tables["invoices"].set_index("invoice_id").loc[iid, "amount"])
    out = loop.ingest(
        [
            {
                "event_id": "pay-now",
                "type": "payment_received",
                "customer_id": target["customer_id"],
                "payment_date": (live_as_of - timedelta(days=1)).isoformat(),
                "allocations": [{"invoice_id": iid, "amount": amount}],
            }
        ],
        as_of=live_as_of,
    )
    assert out["cancelled_messages"] >= 1
    status = {m["message_id"]: m for m in work.list_messages(loop.store)}
    assert status[target["message_id"]]["status"] == "cancelled"
    audit = loop.audit.query(customer_id=target["customer_id"])
    assert any(
        a["payload"].get("message_id") == target["message_id"]
        and a["payload"]["status"] == "cancelled"
        for a in audit
    )
    assert all(status[m["message_id"]]["status"] == "pending" for m in others)
    assert loop.plan(live_as_of) == 0  # planning again adds nothing for the paid invoice


def test_smtp_delivery_records_a_reminder_and_audits_without_the_address(
    loop, live_as_of, smtp, tmp_path, caplog
):
    port, got = smtp
    loop.refresh(live_as_of)
    pending = [
        m for m in work.list_messages(loop.store, status="pending") if m["channel"] == "email"
    ]
    assert pending
    emails = {m["customer_id"]: f"ap-{k}@example.org" for k, m in enumerate(pending)}
    loop.ingest(
        [
            {
                "event_id": f"contact-{c}",
                "type": "customer_registered",
                "customer_id": c,
                "date": "1900-01-01",
                "contact_email": e,
            }
            for c, e in emails.items()
        ],
        as_of=live_as_of,
    )
    loop.delivery = Delivery(smtp_host="127.0.0.1", smtp_port=port, sender="ar@example.com")
    reminders_before = loop.store.count("reminders")
    with caplog.at_level("DEBUG"):
        counts = loop.send(live_as_of)
    assert counts["sent"] == len(pending) == len(got)
    assert {r[0][0] for r in got} == set(emails.values())
    assert "Subject:" in got[0][1]
    sent = work.list_messages(loop.store, status="sent")
    assert {m["message_id"] for m in sent} == {m["message_id"] for m in pending}
    n_invoices = sum(len(m["invoice_ids"]) for m in pending)
    assert loop.store.count("reminders") == reminders_before + n_invoices
    audit = AuditStore(tmp_path / "audit.db").query()
    sent_audit = [a for a in audit if a["source"] == "outbox" and a["payload"]["status"] == "sent"]
    assert {a["payload"]["message_id"] for a in sent_audit} == {m["message_id"] for m in pending}
    planned = {
        a["payload"]["message_id"] for a in audit if a["payload"].get("status") == "planned"
    }
    assert {m["message_id"] for m in pending} <= planned
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("payer_model"))
    assert "delivered message" in ours
    blob = json.dumps(audit) + ours
    assert "example.org" not in blob and "text_sha256" in blob
    assert loop.send(live_as_of)["sent"] == 0  # sent once


def test_webhook_delivery_of_non_email_messages(loop, live_as_of, hook):
    url, got = hook
    loop.refresh(live_as_of)
    loop.delivery = Delivery(outbox_webhook=url)
    counts = loop.send(live_as_of)
    assert counts["sent"] == len(got) > 0
    assert {"message_id", "text", "channel"} <= set(got[0])


def test_refresh_rescores_only_states_that_can_change(loop, live_as_of, scorer):
    from dataclasses import replace

    first = loop.refresh(live_as_of + timedelta(days=1))
    assert first["rescored"] == len(work.load_states(loop.store)) > 0
    assert loop.refresh(live_as_of + timedelta(days=1))["rescored"] == 0
    loop.scorer = replace(scorer, model_version="test-2")  # a new champion rescores everyone
    assert loop.refresh(live_as_of + timedelta(days=1))["rescored"] == first["rescored"]
