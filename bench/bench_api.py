"""Latency, throughput and memory of the scoring API, with references from the same run.

Not part of ``make test`` (``make bench-api``, and ``make bench`` runs it after the batch
benchmarks). Starts real servers on loopback, one after the other, and measures:

* ``/score`` for one customer with a 20-invoice history: p50/p99 at concurrency 1 and 8,
  throughput at concurrency 8; ``/segment_policy`` for the same customer at c=1;
* one 1,000-customer ``/score`` call (their full histories);
* server RSS and error count over a soak at c=8 (``--soak-seconds``; the issue's 10-minute
  soak is the default);

and, as references from the same run: ``/livez`` of the same server, a bare BentoML
endpoint that only parses the same JSON with the same pydantic model, ``mlflow models
serve`` of the champion's P(bad) booster (one feature row a request), and raw
``inplace_predict`` of both boosters on float32 rows.

Results are appended to ``bench/RESULTS.md`` with the machine, versions and date.

Usage (a champion must exist in ``PAYER_TRACKING_URI``; ``make demo`` makes one)::

    uv run python bench/bench_api.py [--data data/sample] [--soak-seconds 600]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

log = logging.getLogger("bench")
REPO = Path(__file__).resolve().parents[1]
KEY = "bench-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free loopback port, stopped by its process group."""

    def __init__(
        self,
        target: str,
        env: dict[str, str],
        log_path: Path,
        command: list[str] | None = None,
        ready: str = "/readyz",
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")  # noqa: SIM115
        cmd = command or [sys.executable, "-m", "bentoml", "serve", target, "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{target} exited; see {log_path}")
            try:
                if httpx.get(self.url + ready, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{target} not ready in 180 s; see {log_path}")

    def rss_mb(self) -> float:
        import psutil

        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(True)]
        return sum(p.memory_info().rss for p in procs) / 2**20

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def _val(v):
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return v.item() if hasattr(v, "item") else v


def bodies(data: Path, as_of: str, n_batch: int):
    """(single 20-invoice body, n_batch-customer body) from a data folder."""
    from payer_model.data.contract import load_dataset

    ds = load_dataset(data)
    inv = ds.invoices[ds.invoices["invoice_date"] < pd.Timestamp(as_of)]
    cols = [
        "invoice_id",
        "invoice_date",
        "due_date",
        "amount",
        "paid_date",
        "document_type",
        "currency",
        "paid_amount",
        "disputed",
    ]
    cust = ds.customers.set_index("customer_id")

    def customer(cid, g, n=None):
        rows = g[cols].head(n) if n else g[cols]
        invoices = [
            {k: _val(v) for k, v in r.items() if _val(v) is not None}
            for r in rows.to_dict("records")
        ]
        return {
            "customer_id": cid,
            "customer_type": cust.loc[cid, "customer_type"],
            "invoices": invoices,
        }

    groups = dict(list(inv.groupby("customer_id")))
    twenty = next(cid for cid, g in groups.items() if len(g) >= 20)
    single = {"as_of": as_of, "customers": [customer(twenty, groups[twenty], 20)]}
    ids = sorted(groups)[:n_batch]
    batch = {"as_of": as_of, "customers": [customer(c, groups[c]) for c in ids]}
    return single, batch


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def run_load(
    url: str,
    body: dict | None,
    concurrency: int,
    n: int | None = None,
    seconds: float | None = None,
) -> dict:
    """Latencies (ms) and throughput for `n` requests or `seconds` of load (GET without body)."""
    payload = None if body is None else json.dumps(body).encode()
    headers = AUTH | {"content-type": "application/json"}
    lat: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds if seconds else None
    counter = iter(range(n)) if n else None

    def worker():
        with httpx.Client(timeout=60) as c:
            while True:
                if counter is not None:
                    with lock:
                        if next(counter, None) is None:
                            return
                elif time.monotonic() >= stop_at:
                    return
                t = time.perf_counter()
                if payload is None:
                    r = c.get(url)
                else:
                    r = c.post(url, content=payload, headers=headers)
                dt = (time.perf_counter() - t) * 1000
                with lock:
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        lat.append(dt)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
    wall = time.perf_counter() - started
    return {
        "n": len(lat),
        "p50_ms": pct(lat, 50),
        "p99_ms": pct(lat, 99),
        "rps": len(lat) / wall,
        "codes": codes,
    }


def champion_rows(body: dict, batch: dict, tracking_uri: str):
    """The champion and the float32 model rows of both bodies (features computed untimed)."""
    from payer_model.adapters import registry
    from payer_model.api.models import ScoreRequest
    from payer_model.features.online import compute_online

    registry.configure(tracking_uri)
    model, _ = registry.download_bundle("payer_rating", "champion")
    rows = {}
    for name, b in (("single", body), ("batch", batch)):
        req = ScoreRequest.model_validate(b)
        block = compute_online(req.customers, req.as_of).block()
        rows[name] = model.encoder_.transform(block).astype(np.float32)
    return model, rows


def raw_predict(model, rows: dict) -> dict:
    """inplace_predict on float32 rows of the champion, both boosters."""
    out = {}
    for name, x in rows.items():
        ts = []
        for _ in range(200 if name == "single" else 20):
            t = time.perf_counter()
            for booster in model.boosters_:
                booster.inplace_predict(x)
            ts.append((time.perf_counter() - t) * 1000)
        out[name] = {"p50_ms": pct(ts, 50), "p99_ms": pct(ts, 99), "rows": len(x)}
    return out


def mlflow_serve(model, rows: dict, tmp: Path, requests: int) -> dict:
    """`mlflow models serve` of the champion's P(bad) booster, one feature row a request."""
    import mlflow.xgboost

    path = tmp / "pbad-booster"
    mlflow.xgboost.save_model(model.boosters_[1], str(path))
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(path)]
    cmd += ["--env-manager", "local", "--host", "127.0.0.1", "--workers", "1"]
    path_env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = Server(
        "mlflow models serve", path_env, tmp / "mlflow.log", command=cmd, ready="/ping"
    )
    body = {
        "dataframe_split": {
            "columns": list(model.encoder_.columns),
            # NaN as the JSON token NaN (the scoring server's json.loads reads it): with
            # null the column would become object and the booster refuse it
            "data": rows["single"].astype(float).tolist(),
        }
    }
    try:
        run_load(server.url + "/invocations", body, 1, n=10)  # warm
        return run_load(server.url + "/invocations", body, 1, n=requests)
    finally:
        server.stop()


def versions() -> str:
    import bentoml
    import duckdb
    import pydantic
    import xgboost

    return (
        f"python {platform.python_version()}, bentoml {bentoml.__version__}, "
        f"xgboost {xgboost.__version__}, duckdb {duckdb.__version__}, "
        f"pydantic {pydantic.__version__}, pandas {pd.__version__}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO / "data" / "sample")
    p.add_argument("--as-of", default=None, help="as-of date [60 days before the last invoice]")
    p.add_argument("--tracking-uri", default=None, help="[PAYER_TRACKING_URI]")
    p.add_argument("--requests", type=int, default=200, help="requests at concurrency 1")
    p.add_argument("--seconds", type=float, default=15.0, help="load duration at concurrency 8")
    p.add_argument("--soak-seconds", type=float, default=600.0)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from payer_model.config import Settings

    uri = a.tracking_uri or Settings().tracking_uri
    inv = pd.read_csv(a.data / "invoices.csv", usecols=["invoice_date"])
    as_of = a.as_of or (pd.Timestamp(inv["invoice_date"].max()) - pd.Timedelta(days=60)).date()
    single, batch = bodies(a.data, str(as_of), a.batch)
    log.info(
        "bodies: single %d invoices (%d B), batch %d customers (%d B)",
        len(single["customers"][0]["invoices"]),
        len(json.dumps(single)),
        len(batch["customers"]),
        len(json.dumps(batch)),
    )
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"payer-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "PAYER_TRACKING_URI": uri,
        "PAYER_API_KEYS": KEY,
        "PAYER_AUDIT_DB": str(tmp / "a.db"),
        "PAYER_RATE_LIMIT_PER_MIN": "10000000",
        "PAYER_RATE_LIMIT_BURST": "100000",
        "PAYER_MAX_BODY_BYTES": str(64 * 2**20),
        "PAYER_MAX_CONCURRENCY": "64",
        "BENTOML_DO_NOT_TRACK": "True",
        "PAYER_LOG_LEVEL": "WARNING",
    }
    res: dict = {
        "batch_invoices": sum(len(c["invoices"]) for c in batch["customers"]),
        "workers": os.environ.get("PAYER_WORKERS") or os.cpu_count(),
    }
    bare = Server("bench.bare_service:BareService", env, tmp / "bare.log")
    try:
        run_load(bare.url + "/score", single, 1, n=20)  # warm
        res["bare_c1"] = run_load(bare.url + "/score", single, 1, n=a.requests)
        res["bare_c8"] = run_load(bare.url + "/score", single, 8, seconds=a.seconds)
        res["bare_batch"] = run_load(bare.url + "/score", batch, 1, n=3)
    finally:
        bare.stop()
    log.info("bare: %s", {k: v for k, v in res.items()})
    svc = Server("serving.service:PayerModelService", env, tmp / "svc.log")
    try:
        run_load(svc.url + "/score", single, 1, n=10)  # warm
        res["livez"] = run_load(svc.url + "/livez", None, 1, n=a.requests)
        res["svc_c1"] = run_load(svc.url + "/score", single, 1, n=a.requests)
        log.info("svc c1: %s", res["svc_c1"])
        res["policy_c1"] = run_load(svc.url + "/segment_policy", single, 1, n=a.requests)
        res["svc_c8"] = run_load(svc.url + "/score", single, 8, seconds=a.seconds)
        log.info("svc c8: %s", res["svc_c8"])
        res["svc_batch"] = run_load(svc.url + "/score", batch, 1, n=3)
        log.info("svc batch: %s", res["svc_batch"])
        rss0 = svc.rss_mb()
        res["soak"] = run_load(svc.url + "/score", single, 8, seconds=a.soak_seconds)
        rss1 = svc.rss_mb()
        res["rss"] = {"before_mb": rss0, "after_mb": rss1, "growth_pct": 100 * (rss1 / rss0 - 1)}
    finally:
        svc.stop()
    model, rows = champion_rows(single, batch, uri)
    res["raw"] = raw_predict(model, rows)
    res["mlflow"] = mlflow_serve(model, rows, tmp, a.requests)
    write(a, res, len(batch["customers"]))


def write(a, res: dict, n_batch: int) -> None:
    def row(name, r, target=""):
        return (
            f"| {name} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r.get('rps', float('nan')):.1f}"
            f" | {target} |"
        )

    raw, ml = res["raw"], res["mlflow"]
    load1 = os.getloadavg()
    s1, s8, sb, sp = res["svc_c1"], res["svc_c8"], res["svc_batch"], res["policy_c1"]
    b1 = res["bare_c1"]
    errors = sum(n for code, n in res["soak"]["codes"].items() if code != 200)
    checks = [
        ("p50 <= 10 ms at c=1", s1["p50_ms"] <= 10, f"{s1['p50_ms']:.1f} ms"),
        ("p99 <= 30 ms at c=1", s1["p99_ms"] <= 30, f"{s1['p99_ms']:.1f} ms"),
        (
            "p50 <= mlflow models serve p50",
            s1["p50_ms"] <= ml["p50_ms"],
            f"{s1['p50_ms']:.1f} vs {ml['p50_ms']:.1f} ms",
        ),
        (">= 200 req/s at c=8", s8["rps"] >= 200, f"{s8['rps']:.1f} req/s"),
        (f"{n_batch} customers <= 300 ms", sb["p50_ms"] <= 300, f"{sb['p50_ms']:.0f} ms"),
        ("/segment_policy p50 <= 12 ms", sp["p50_ms"] <= 12, f"{sp['p50_ms']:.1f} ms"),
        (
            "soak: RSS growth <= 10 %, 0 errors",
            res["rss"]["growth_pct"] <= 10 and errors == 0,
            f"{res['rss']['growth_pct']:.1f} %, {errors} errors ({a.soak_seconds:.0f} s)",
        ),
    ]
    lines = [
        f"\n## {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n",
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load average at the end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}",
        f"- versions: {versions()}",
        f"- data: {a.data}, single = 1 customer x 20 invoices, batch = {n_batch} customers "
        f"({res['batch_invoices']:,} invoices, "
        f"full history before as-of); {res['workers']} API worker(s); "
        f"requests at c=1: {a.requests}; "
        f"c=8 duration {a.seconds:.0f} s",
        "",
        "| measure | p50 ms | p99 ms | req/s | target |",
        "|---|---|---|---|---|",
        row("/score single, c=1", s1, "p50 <= 10, p99 <= 30, <= mlflow serve"),
        row("/score single, c=8", s8, ">= 200 req/s"),
        row(f"/score {n_batch} customers, c=1", sb, "<= 300 ms"),
        row("/segment_policy single, c=1", sp, "p50 <= 12"),
        row("reference: /livez of the same server, c=1", res["livez"]),
        row("reference: bare BentoML parse-only, single, c=1", b1),
        row("reference: bare BentoML parse-only, single, c=8", res["bare_c8"]),
        row(f"reference: bare BentoML parse-only, {n_batch} customers", res["bare_batch"]),
        row("reference: mlflow models serve, P(bad) booster, 1 row, c=1", ml),
        f"| reference: raw inplace_predict, 1 row (both boosters) | "
        f"{raw['single']['p50_ms']:.3f} | {raw['single']['p99_ms']:.3f} | | |",
        f"| reference: raw inplace_predict, {raw['batch']['rows']} rows | "
        f"{raw['batch']['p50_ms']:.3f} | {raw['batch']['p99_ms']:.3f} | | |",
        "",
        f"- overhead ratios (p50, single, c=1): service / bare = "
        f"{s1['p50_ms'] / b1['p50_ms']:.1f}x; service / livez = "
        f"{s1['p50_ms'] / res['livez']['p50_ms']:.1f}x; service / mlflow serve = "
        f"{s1['p50_ms'] / ml['p50_ms']:.2f}x",
        f"- RSS: {res['rss']['before_mb']:.0f} MB -> {res['rss']['after_mb']:.0f} MB over "
        f"{a.soak_seconds:.0f} s at c=8 ({res['soak']['n']} requests)",
        f"- status codes: c=1 {s1['codes']}, c=8 {s8['codes']}, soak {res['soak']['codes']}",
        "- targets: "
        + "; ".join(f"{n}: {'met' if ok else 'MISSED'} ({v})" for n, ok, v in checks),
        "",
    ]
    text = "\n".join(lines)
    if not a.out.exists():
        a.out.write_text(
            "# API benchmark results\n\nAppended by `bench/bench_api.py`; newest "
            "last. Targets from issue 14 (2-core machine).\n"
        )
    with a.out.open("a") as f:
        f.write(text)
    print(text)  # noqa: T201 - the bench's report goes to stdout


if __name__ == "__main__":
    main()
