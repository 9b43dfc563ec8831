"""Live routes behind the API guard: auth, events in (quarantine, idempotency), state out."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from payer_model.adapters.audit import AuditStore
from payer_model.api.guard import ApiGuard
from payer_model.api.live import LiveApi
from payer_model.config import Settings
from payer_model.live.convert import events_from_tables

AUTH = {"Authorization": "Bearer live-key-0123456789"}


@pytest.fixture
def client(tmp_path, monkeypatch, scorer, live_tables, live_as_of):
    monkeypatch.setenv("PAYER_API_KEYS", "live-key-0123456789")
    monkeypatch.setenv("PAYER_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("PAYER_RATE_LIMIT_PER_MIN", "100000")
    monkeypatch.setenv("PAYER_RATE_LIMIT_BURST", "1000")
    engine = SimpleNamespace(
        ready=True,
        error=None,
        model=scorer.model,
        model_version="test-1",
        cfg=scorer.cfg,
        policies=scorer.policies,
        audit=AuditStore(tmp_path / "audit.db"),
    )
    live = LiveApi()
    live.attach(engine, Settings())

    async def score(request):
        return JSONResponse({"route": "score"})

    app = ApiGuard(Starlette(routes=[Route("/score", score, methods=["POST"])]), live=live)
    with TestClient(app) as c:
        yield c, engine, live


def test_live_routes_need_a_key(client):
    c, _, _ = client
    assert c.get("/customers/C1").status_code == 401
    assert c.post("/events", json={"events": []}).status_code == 401
    assert c.get("/alerts").status_code == 401
    assert (
        c.post(
            "/events", content=b"{}", headers={**AUTH, "content-type": "text/plain"}
        ).status_code
        == 415
    )


def test_events_in_state_out(client, live_tables, live_as_of):
    c, engine, live = client
    raw = events_from_tables(live_tables)
    cid = str(live_tables["invoices"]["customer_id"].iloc[0])
    mine = [e for e in raw if e["customer_id"] == cid]
    bad = {
        "event_id": "bad-1",
        "type": "invoice_issued",
        "customer_id": cid,
        "invoice_id": "X1",
        "invoice_date": "2025-01-10",
        "due_date": "2025-01-01",
        "amount": 10.0,
    }
    r = c.post(
        "/events", json={"events": [*mine, bad], "as_of": live_as_of.isoformat()}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == len(mine) and body["rescored"] == 1
    assert body["quarantine"] == [{"event_id": "bad-1", "reason": body["quarantine"][0]["reason"]}]
    assert body["quarantine"][0]["reason"].startswith("due_before_invoice")
    again = c.post(
        "/events", json={"events": mine, "as_of": live_as_of.isoformat()}, headers=AUTH
    ).json()
    assert again["accepted"] == 0 and again["duplicates"] == len(mine)

    view = c.get(f"/customers/{cid}", headers=AUTH)
    assert view.status_code == 200
    v = view.json()
    assert v["customer_id"] == cid and v["rating"] and v["segment"] and "next_actions" in v
    assert v["as_of"] == live_as_of.isoformat() and v["model_version"] == "test-1"
    audit = engine.audit.query(customer_id=cid)
    assert audit and audit[0]["source"] == "api" and audit[0]["key_id"]

    assert c.get("/customers/NOPE", headers=AUTH).status_code == 404
    assert c.get("/alerts?since=2020-01-01", headers=AUTH).json()["alerts"] == []
    r = c.get("/alerts?since=yesterday", headers=AUTH)
    assert r.status_code == 400 and "since" in r.json()["error"]
    assert c.get("/reviews", headers=AUTH).json()["reviews"] == []
    r = c.post("/reviews/7/approve", json={"by": "kim", "why": "ok"}, headers=AUTH)
    assert r.status_code == 404 and "no pending review" in r.json()["error"]
    r = c.post("/reviews/7/approve", json={"by": ""}, headers=AUTH)
    assert r.status_code == 400
    assert c.post("/score", json={}, headers=AUTH).json() == {"route": "score"}


def test_malformed_bodies_name_the_field(client):
    c, _, _ = client
    r = c.post("/events", content=b"[1", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = c.post("/events", json={"events": "x"}, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"].startswith("events")
    r = c.post("/events", json={"events": [{}] * 5001}, headers=AUTH)
    assert r.status_code == 400 and "5000" in r.json()["error"]
    r = c.post("/events", json={"events": [{"type": "nope"}]}, headers=AUTH)
    assert r.status_code == 200 and r.json()["quarantined"] == 1
