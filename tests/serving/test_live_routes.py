"""The live routes through the real service (BentoML ASGI app, real champion, guard, audit)."""

from __future__ import annotations

import pytest
from serving_helpers import AUTH, KEY, load_service
from starlette.testclient import TestClient

from payer_model.live.convert import events_from_tables

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serving")]


def test_events_in_customer_state_out(champion_store, portfolio_tables, as_of, tmp_path):
    mp = pytest.MonkeyPatch()
    for k, v in {
        "PAYER_TRACKING_URI": champion_store["PAYER_TRACKING_URI"],
        "PAYER_API_KEYS": KEY,
        "PAYER_AUDIT_DB": str(tmp_path / "audit.db"),
        "PAYER_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "PAYER_RATE_LIMIT_PER_MIN": "100000",
    }.items():
        mp.setenv(k, v)
    try:
        with TestClient(load_service().to_asgi()) as client:
            cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[3]
            events = [e for e in events_from_tables(portfolio_tables) if e["customer_id"] == cid]
            assert client.post("/events", json={"events": events}).status_code == 401
            r = client.post("/events", json={"events": events, "as_of": as_of}, headers=AUTH)
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == len(events) and r.json()["rescored"] == 1
            view = client.get(f"/customers/{cid}", headers=AUTH).json()
            assert view["as_of"] == as_of and view["rating"] and view["segment"]
            meta = client.get("/metadata", headers=AUTH).json()
            assert view["model_version"] == meta["model_version"]
            assert client.get("/alerts", headers=AUTH).json()["alerts"] == []
            assert client.post("/score", json={}, headers=AUTH).status_code == 400
    finally:
        mp.undo()
    assert (tmp_path / "ledger.db").exists()
