"""Live ledger benchmark (issue 15): ingest with rescoring, event -> state latency, refresh.

    uv run --frozen python bench/bench_live.py                      # 100k events, SQLite
    uv run --frozen python bench/bench_live.py --customers 300      # quick run
    uv run --frozen python bench/bench_live.py --url postgresql+psycopg://...

Targets: ingest of 100,000 events with rescoring <= 60 s; one event to updated state p50
<= 20 ms; refresh of the portfolio <= 30 s (at 100k customers). Reference measured in the
same run: batch ``score`` (DuckDB features, same model) of the same tables at the same date.
The model is a small XGBoost fitted on rule labels (the cost of rating does not depend on
how well it was trained).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd


def _model(tables, as_of, cfg):
    from payer_model.features import compute
    from payer_model.modelling.baselines import rule_rating
    from payer_model.modelling.fit import new_model

    cuts = [(pd.Timestamp(as_of) - pd.DateOffset(months=m)).date() for m in (6, 3)]
    feats = pd.concat([compute(tables, c, cfg) for c in cuts], ignore_index=True)
    key = rule_rating(feats, cfg.labels)
    keep = key.notna().to_numpy()
    y = key[keep].map({"good": 0, "average": 1, "bad": 2}).to_numpy(dtype=np.int64)
    cfg.model.num_boost_round = 50
    return new_model(cfg).fit(feats[keep].reset_index(drop=True), y)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one linear script
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=800, help="~125 events per customer")
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--batch", type=int, default=200_000, help="events per ingest call")
    ap.add_argument("--probes", type=int, default=200, help="single events for the p50")
    ap.add_argument("--url", default=None, help="ledger URL [a SQLite file in a temp dir]")
    ap.add_argument(
        "--refresh-only",
        action="store_true",
        help="fill the ledger without rescoring and skip the probes (refresh at scale)",
    )
    args = ap.parse_args(argv)

    from payer_model.adapters.ledger import LedgerStore
    from payer_model.config import TrainConfig
    from payer_model.data.contract import validate_frames
    from payer_model.data.generate import generate_dataset
    from payer_model.jobs.live import LiveLoop
    from payer_model.jobs.live_ops import customer_view
    from payer_model.jobs.score import score
    from payer_model.live.convert import events_from_tables
    from payer_model.live.rescore import Scorer
    from payer_model.policy.policies import DEFAULT_POLICY_FILE, load_policies

    cfg = TrainConfig()
    tables = validate_frames(generate_dataset(args.customers, args.months, seed=5)).tables
    as_of = (pd.Timestamp(tables["invoices"]["invoice_date"].max()) + pd.Timedelta(days=1)).date()
    from payer_model.modelling.model import load_bundle

    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    # saved and loaded as the registry does (one thread per booster, as in production)
    model = load_bundle(_model(tables, as_of, cfg).save(tmp / "model"))
    scorer = Scorer(model, "bench", cfg, load_policies(DEFAULT_POLICY_FILE))
    raw = events_from_tables(tables)
    random.Random(0).shuffle(raw)
    store = LedgerStore(args.url or f"sqlite:///{tmp / 'ledger.db'}")
    loop = LiveLoop(store, scorer)

    t0 = time.perf_counter()
    for k in range(0, len(raw), args.batch):
        if args.refresh_only:
            store.append(raw[k : k + args.batch])
        else:
            loop.ingest(raw[k : k + args.batch], as_of=as_of)
    ingest_s = time.perf_counter() - t0
    if args.refresh_only:
        args.probes = 0

    ids = sorted(tables["invoices"]["customer_id"].astype(str).unique())
    rng = random.Random(1)
    lat = []
    for n in range(args.probes):
        cid = rng.choice(ids)
        iid = f"BENCH-{n}"
        ev = {"event_id": f"bench-{n}", "type": "invoice_issued", "customer_id": cid,
              "invoice_id": iid, "invoice_date": (as_of - timedelta(days=2)).isoformat(),
              "due_date": (as_of + timedelta(days=28)).isoformat(), "amount": 100.0}  # fmt: skip
        t1 = time.perf_counter()
        loop.ingest([ev], as_of=as_of)
        view = customer_view(store, cid)
        lat.append((time.perf_counter() - t1) * 1000)
        assert view is not None and any(r["invoice_id"] == iid for r in view["invoices_at_risk"])

    t2 = time.perf_counter()
    out = loop.refresh(as_of + timedelta(days=1))
    refresh_s = time.perf_counter() - t2
    t3 = time.perf_counter()
    batch = score(store.tables(), as_of + timedelta(days=1), model, cfg)
    batch_s = time.perf_counter() - t3

    result = {
        "backend": store.engine.dialect.name,
        "ingest_rescored": not args.refresh_only,
        "customers": len(ids),
        "events": len(raw),
        "ingest_s": round(ingest_s, 2),
        "ingest_events_per_s": round(len(raw) / ingest_s),
        "event_to_state_p50_ms": round(statistics.median(lat), 2) if lat else None,
        "event_to_state_p90_ms": round(float(np.percentile(lat, 90)), 2) if lat else None,
        "refresh_s": round(refresh_s, 2),
        "refreshed": out["rescored"],
        "reference_batch_score_s": round(batch_s, 2),
        "reference_rows": len(batch),
    }
    print(json.dumps(result, indent=2))
    store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
