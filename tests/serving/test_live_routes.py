"""The live routes through the real service (BentoML ASGI app, real champion, guard, audit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_helpers import AUTH

from payer_model.live.convert import events_from_tables

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serving")]


def test_events_in_customer_state_out(client_env, portfolio_tables, as_of):
    client, env = client_env  # one ASGI app per session: BentoML registers its metrics once
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
    assert Path(env["PAYER_LEDGER_URL"].removeprefix("sqlite:///")).exists()
