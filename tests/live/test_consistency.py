"""State after a SHUFFLED event stream equals batch scoring of the same tables (both DBs)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from payer_model.adapters import ledger_work as work
from payer_model.adapters.ledger import LedgerStore
from payer_model.config import TrainConfig
from payer_model.features import NUMERIC_FEATURES
from payer_model.jobs.live import LiveLoop
from payer_model.jobs.score import rated_portfolio
from payer_model.live.convert import events_from_tables


def _ingest_shuffled(loop, tables, as_of, batches=7, seed=3):
    raw = events_from_tables(tables)
    random.Random(seed).shuffle(raw)
    size = len(raw) // batches + 1
    for k in range(0, len(raw), size):
        out = loop.ingest(raw[k : k + size], as_of=as_of)
        assert out["quarantined"] == 0, out["quarantine"]
    return raw


def test_shuffled_stream_equals_batch_score(ledger_url, live_tables, live_as_of, scorer):
    loop = LiveLoop(LedgerStore(ledger_url), scorer)
    _ingest_shuffled(loop, live_tables, live_as_of)

    batch = rated_portfolio(
        live_tables, live_as_of, scorer.model, TrainConfig(), model_version="test-1"
    )
    states = work.load_states(loop.store)
    assert sorted(states) == sorted(batch["customer_id"])
    live = (
        pd.DataFrame(
            [
                {"customer_id": cid, "rating": s["rating"], "p_bad": s["p_bad"], **s["features"]}
                for cid, s in states.items()
            ]
        )
        .set_index("customer_id")
        .loc[batch["customer_id"]]
    )
    b = batch.set_index("customer_id")
    assert live["rating"].tolist() == b["rating"].tolist()
    rated = b["rating"] != "unrated"
    assert rated.sum() > 20
    for col in NUMERIC_FEATURES:
        got = pd.to_numeric(live.loc[rated.to_numpy(), col]).to_numpy(dtype=float)
        want = b.loc[rated, col].to_numpy(dtype=float)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=col)
    np.testing.assert_allclose(
        live.loc[rated.to_numpy(), "p_bad"].to_numpy(dtype=float),
        b.loc[rated, "p_bad"].to_numpy(dtype=float),
        rtol=1e-9,
        atol=1e-12,
    )
    for s in states.values():
        assert s["as_of"] == live_as_of
        assert s["segment"] and s["model_version"] == "test-1" and s["policy_version"]
    loop.store.dispose()


def test_replaying_the_stream_changes_nothing(ledger_url, live_tables, live_as_of, scorer):
    loop = LiveLoop(LedgerStore(ledger_url), scorer)
    raw = _ingest_shuffled(loop, live_tables, live_as_of, batches=2)
    counts = {
        t: loop.store.count(t)
        for t in ("ledger_events", "invoices", "payments", "reminders", "customers", "alerts")
    }
    before = work.load_states(loop.store)
    again = loop.ingest(raw, as_of=live_as_of)
    assert again["accepted"] == 0 and again["duplicates"] == len(raw)
    assert again["rescored"] == 0 and again["alerts"] == 0
    assert {t: loop.store.count(t) for t in counts} == counts
    after = work.load_states(loop.store)
    assert {k: v["features"] for k, v in after.items()} == {
        k: v["features"] for k, v in before.items()
    }
    loop.store.dispose()
