"""Benchmarks against the targets of issue 10, each measured in its own subprocess.

Every measurement runs as ``python -m bench.run task NAME ARGS`` in a fresh interpreter
that reports its wall time and its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``,
which covers DuckDB's threads), so one task's memory never hides another's. References
(pandas, a plain DuckDB group-by, raw ``inplace_predict``) are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
MONTHS = 24
IPM = 1.17  # invoices per customer-month: 400k customers x 24 months ~ 10M invoices


def _customers_for(n_invoices: int) -> int:
    return max(1000, round(n_invoices / (MONTHS * IPM)))


# ---------------------------------------------------------------- tasks (in subprocesses)


def _load(path: Path) -> dict:
    import pandas as pd

    tables = {}
    for name in ("customers", "invoices", "payments", "reminders"):
        if (path / f"{name}.parquet").exists():
            frame = pd.read_parquet(path / f"{name}.parquet")
            for col in frame.columns:
                if col.endswith("_date"):  # Parquet DATE -> datetime64, as the loader does
                    frame[col] = pd.to_datetime(frame[col])
            tables[name] = frame
    return tables


def _as_of(tables: dict):
    from payer_model.features.labels import data_range

    return data_range(tables["invoices"])[1]


def task_gen(out: str, customers: int, months: int = MONTHS, ipm: float = IPM) -> dict:
    from payer_model.data.generate import generate_dataset, write_dataset

    t0 = time.perf_counter()
    tables = generate_dataset(customers, months, seed=1, invoices_per_month=ipm)
    write_dataset(tables, out, fmt="parquet")
    return {"seconds": time.perf_counter() - t0, "invoices": len(tables["invoices"])}


def _as_of_files(path: str):
    """The day after the last dated event of a data folder (DuckDB on the files)."""
    import duckdb
    import pandas as pd

    ((last,),) = duckdb.sql(
        "SELECT max(greatest(invoice_date, coalesce(paid_date, invoice_date), "
        "coalesce(dispute_date, invoice_date), coalesce(written_off_date, invoice_date))) "
        f"FROM read_parquet('{path}/invoices.parquet')"
    ).fetchall()
    return pd.Timestamp(last) + pd.Timedelta(days=1)


def task_features(path: str, engine: str) -> dict:
    from payer_model.config import TrainConfig
    from payer_model.features import compute

    as_of = _as_of_files(path)
    load = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    if engine == "pandas":
        from bench.pandas_reference import pandas_features

        tables = _load(Path(path))
        load = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        out = pandas_features(
            tables["invoices"],
            tables.get("payments"),
            as_of,
            customers=tables.get("customers"),
            reminders=tables.get("reminders"),
        )
    else:  # the files read in place: no pandas copy of the invoices
        out = compute(path, as_of, TrainConfig())
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "load_s": load,
        "rows": len(out),
    }


def task_groupby(path: str) -> dict:
    import duckdb

    t0, c0 = time.perf_counter(), time.process_time()
    n = duckdb.sql(
        f"SELECT customer_id, sum(amount) FROM read_parquet('{path}/invoices.parquet') "
        "GROUP BY customer_id"
    ).fetchall()
    return {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "rows": len(n)}


def task_snapshots(path: str, out: str) -> dict:
    import pandas as pd

    from payer_model.config import TrainConfig
    from payer_model.modelling.snapshots import build_snapshots, usable

    end = _as_of_files(path).to_period("M").to_timestamp()
    cutoffs = list(pd.date_range(end=end, periods=12, freq="MS"))
    t0, c0 = time.perf_counter(), time.process_time()
    snap = build_snapshots(path, cutoffs, TrainConfig())
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    usable(snap).to_parquet(out, index=False)
    return {"seconds": secs, "cpu_s": cpu, "rows": len(snap), "cutoffs": len(cutoffs)}


def task_train(what: str, snap: str, model_dir: str, max_rows: int = 1_000_000) -> dict:
    import pandas as pd

    from payer_model.config import TrainConfig
    from payer_model.features.labels import LABEL_INDEX
    from payer_model.modelling.model import XGBRatingModel

    cfg = TrainConfig()
    if what == "sample":
        from payer_model.data.generate import generate_dataset
        from payer_model.jobs.train import fit_and_evaluate

        tables = generate_dataset(1500, 24, seed=42)
        t0 = time.perf_counter()
        res = fit_and_evaluate(tables, cfg)
        secs = time.perf_counter() - t0
        res.model.save(model_dir)
        return {"seconds": secs, "rows": len(res.train) + len(res.val)}
    rows = pd.read_parquet(snap)
    rows = rows.sample(n=min(max_rows, len(rows)), random_state=0)
    last = rows["as_of"].max()
    train, val = rows[rows["as_of"] < last], rows[rows["as_of"] == last]
    m = cfg.model
    model = XGBRatingModel(
        m.params, m.num_boost_round, m.early_stopping_rounds, m.class_weights, m.seed
    )

    def y(f):
        return f["label"].map(LABEL_INDEX).to_numpy(dtype=int)

    t0 = time.perf_counter()
    model.fit(train, y(train), val, y(val))
    return {"seconds": time.perf_counter() - t0, "rows": len(rows)}


def task_score(path: str, model_dir: str, out: str, sample: int = 20_000) -> dict:
    import numpy as np
    import xgboost as xgb

    from payer_model.config import TrainConfig
    from payer_model.features import compute
    from payer_model.jobs.score import score_to_parquet
    from payer_model.modelling.explain import reason_codes
    from payer_model.modelling.model import load_bundle, rating_frame
    from payer_model.modelling.treeshap import PatternExplainer

    model = load_bundle(model_dir)
    as_of = _as_of_files(path)
    t0, c0 = time.perf_counter(), time.process_time()
    res = score_to_parquet(path, as_of, model, TrainConfig(), out, model_version="bench")
    e2e, cpu = time.perf_counter() - t0, time.process_time() - c0
    feats = compute(path, as_of, TrainConfig())
    t0 = time.perf_counter()
    rated = rating_frame(model, feats)
    model_s = time.perf_counter() - t0
    x = model.encoder_.transform(feats)
    t0 = time.perf_counter()
    for b in model.boosters_:
        np.asarray(b.inplace_predict(x))
    raw_s = time.perf_counter() - t0
    # references on a sample of rated rows: exact TreeSHAP per row on all cores, and the
    # reasons it gives against the pattern path's
    rows = np.flatnonzero(rated["rating"].to_numpy() != "unrated")[:sample]
    sub = feats.iloc[rows].reset_index(drop=True)
    ratings = rated["rating"].to_numpy()[rows]
    xs = model.encoder_.transform(sub)
    booster = model.boosters_[1]
    booster.set_param({"nthread": os.cpu_count()})
    t0 = time.perf_counter()
    booster.predict(xgb.DMatrix(xs, feature_names=model.encoder_.columns), pred_contribs=True)
    exact_us = (time.perf_counter() - t0) / max(1, len(rows)) * 1e6
    t0 = time.perf_counter()
    fast = reason_codes(PatternExplainer(model), sub, ratings)
    fast_s = time.perf_counter() - t0
    exact = reason_codes(model, sub, ratings)
    codes = [[[r["code"] for r in x] for x in res] for res in (fast, exact)]
    same = np.mean([a == b for a, b in zip(*codes, strict=True)])
    return {
        "seconds": e2e,
        "cpu_s": cpu,
        "customers": res["rows"],
        "feature_rows": len(feats),
        "model_rows_s": len(feats) / model_s,
        "raw_rows_s": len(feats) / raw_s,
        "exact_shap_us": exact_us,
        "pattern_reasons_us": fast_s / max(1, len(rows)) * 1e6,
        "top3_same": float(same),
        "sample": len(rows),
    }


TASKS = {
    "gen": task_gen,
    "features": task_features,
    "groupby": task_groupby,
    "snapshots": task_snapshots,
    "train": task_train,
    "score": task_score,
}


def _task_main(name: str, args: list[str]) -> None:
    result = TASKS[name](*[json.loads(a) if a[:1] in "0123456789[{" else a for a in args])
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ driver


def run_task(name: str, *args) -> dict:
    """Run one task in a fresh interpreter; return its JSON result."""
    cmd = [sys.executable, "-m", "bench.run", "task", name, *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT.parent)
    if proc.returncode:
        raise RuntimeError(f"{name} {args} failed:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line[7:])
    result["process_s"] = time.perf_counter() - t0
    print(f"  {name} {' '.join(map(str, args))}: {result}", file=sys.stderr, flush=True)
    return result


def _machine() -> str:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            int(x.split()[1]) / 1024**2
            for x in Path("/proc/meminfo").read_text().splitlines()
            if x.startswith("MemTotal")
        )
    except OSError:
        mem = float("nan")
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, load average {load:.1f} at start"


def _versions() -> str:
    from importlib.metadata import version

    pkgs = ("duckdb", "pandas", "pyarrow", "xgboost", "pyspark")
    return ", ".join(f"{p} {version(p)}" for p in pkgs) + f", Python {platform.python_version()}"


def _verdict(value: float, target: float, unit: str = "s") -> str:
    if value <= target:
        return f"met ({value:.1f} {unit} <= {target:g} {unit})"
    return f"MISSED by {value / target:.1f}x ({value:.1f} {unit} > {target:g} {unit})"


def _fit(points: list[tuple[float, float]], n: float) -> float:
    """Linear cost model through the two largest measured sizes, evaluated at ``n``."""
    (n0, s0), (n1, s1) = points[-2], points[-1]
    slope = (s1 - s0) / (n1 - n0)
    return s1 + slope * (n - n1)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one linear report
    """Run the benchmarks, print the table, append it to bench/RESULTS.md."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["task"]:
        _task_main(argv[1], argv[2:])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--quick", action="store_true", help="10x smaller sizes (about 3 min)")
    ap.add_argument(
        "--max-invoices",
        type=float,
        default=None,
        help="measure sizes up to this many invoices only and extrapolate the rest "
        "(a shared machine); the portfolio scored keeps 1M customers with fewer months",
    )
    ap.add_argument("--train-rows", type=int, default=1_000_000, help="snapshot rows to train on")
    opts = ap.parse_args(argv)
    scale = 0.1 if opts.quick else 1.0
    full = [int(s * scale) for s in (1_000_000, 3_000_000, 10_000_000)]
    cap = opts.max_invoices or float("inf")
    sizes = [n for n in full if n <= cap * 1.0001]
    score_customers = int(1_000_000 * scale)
    # 12 months x 0.6 invoices a month (7.2 invoices a customer); capped runs keep the
    # customers and shorten the history so the invoices stay under the cap
    score_months = 12 if 7.2 * score_customers <= cap else max(3, int(cap / score_customers / 0.6))
    os.environ.setdefault("PAYER_DUCKDB_MEMORY_LIMIT", "3GB")
    DATA.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = _machine()
    print(f"machine: {machine}", file=sys.stderr)

    rows: list[tuple[str, str, str, str]] = []  # what, result, reference, target
    from bench.pandas_reference import check_reference

    ref = check_reference()
    rows.append(
        (
            f"pandas reference vs DuckDB, all {ref['columns']} feature columns (2k customers); "
            "files read in place vs in-memory frames",
            f"max rel diff {ref['max_rel_diff']:.1e}; categoricals equal; files == frames",
            "",
            "equal",
        )
    )
    curve, cpu_curve, grp_curve = [], [], []
    last = {}
    for n in sizes:
        path = DATA / f"inv_{n}"
        gen = run_task("gen", path, _customers_for(n))
        duck = run_task("features", path, "duckdb")
        pand = run_task("features", path, "pandas")
        grp = run_task("groupby", path)
        curve.append((gen["invoices"], duck["seconds"]))
        cpu_curve.append((gen["invoices"], duck["cpu_s"]))
        grp_curve.append((gen["invoices"], grp["cpu_s"]))
        speed = pand["seconds"] / duck["seconds"]
        last = {"duck": duck, "pand": pand, "grp": grp, "n": gen["invoices"], "speed": speed}
        rows.append(
            (
                f"features, 1 as-of, {gen['invoices'] / 1e6:.2f}M invoices (Parquet in place)",
                f"{duck['seconds']:.1f} s (CPU {duck['cpu_s']:.1f} s), "
                f"{duck['peak_rss_gb']:.2f} GB RSS ({duck['rows']:,} customers)",
                f"pandas, all features: {pand['seconds']:.1f} s (CPU {pand['cpu_s']:.1f} s) + "
                f"load {pand['load_s']:.1f} s / "
                f"{pand['peak_rss_gb']:.2f} GB ({speed:.1f}x wall, "
                f"{pand['cpu_s'] / duck['cpu_s']:.1f}x CPU); DuckDB group-by "
                f"{grp['seconds']:.2f} s (CPU {grp['cpu_s']:.2f} s)",
                "",
            )
        )
    # the largest size's invoice count, scaled like the customers (the 10M data: ~8.9M)
    target_n = curve[-1][0] * full[-1] / sizes[-1]
    if len(curve) >= 2:
        est, est_cpu = _fit(curve, target_n), _fit(cpu_curve, target_n)
        est_grp = _fit(grp_curve, target_n)
        (n0, s0), (n1, s1) = cpu_curve[0], cpu_curve[-1]
        how = "measured" if sizes == full else "linear extrapolation"
        rows.append(
            (
                "cost curve, features 1 as-of (wall / CPU)",
                " / ".join(
                    f"{n / 1e6:.2f}M: {w:.2f} s / {c:.2f} s"
                    for (n, w), (_, c) in zip(curve, cpu_curve, strict=True)
                ),
                f"CPU x{s1 / s0:.1f} for x{n1 / n0:.1f} rows; {how} to {target_n / 1e6:.2f}M: "
                f"{est:.1f} s wall, {est_cpu:.1f} s CPU; group-by {est_grp:.2f} s CPU "
                f"({est_cpu / max(est_grp, 1e-9):.1f}x)",
                f"<= 10 s: wall {_verdict(est, 10)}, CPU {_verdict(est_cpu, 10)}; "
                f"<= 6x group-by: {_verdict(est_cpu / max(est_grp, 1e-9), 6, 'x')}",
            )
        )
    rows.append(
        (
            f"features at {last['n'] / 1e6:.2f}M vs the pandas reference",
            f"{last['speed']:.1f}x faster (wall), "
            f"{last['pand']['cpu_s'] / last['duck']['cpu_s']:.1f}x less CPU, "
            f"{last['duck']['peak_rss_gb']:.2f} GB RSS",
            f"pandas {last['pand']['peak_rss_gb']:.2f} GB",
            (
                f">= 4x: met ({last['speed']:.1f}x)"
                if last["speed"] >= 4
                else f">= 4x: MISSED by {4 / last['speed']:.1f}x ({last['speed']:.1f}x)"
            )
            + "; <= 4 GB: "
            f"{_verdict(last['duck']['peak_rss_gb'], 4, 'GB')}",
        )
    )
    big = DATA / f"inv_{sizes[-1]}"
    snap = run_task("snapshots", big, DATA / "snapshots.parquet")
    one = curve[-1][1]
    snap_est = snap["seconds"] * target_n / curve[-1][0]
    snap_cpu = snap["cpu_s"] * target_n / curve[-1][0]
    rows.append(
        (
            f"training set, 12 monthly cutoffs, {curve[-1][0] / 1e6:.2f}M invoices",
            f"{snap['seconds']:.1f} s (CPU {snap['cpu_s']:.1f} s), {snap['peak_rss_gb']:.2f} GB "
            f"({snap['rows']:,} rows)",
            f"1 cutoff {one:.1f} s (CPU x{snap['cpu_s'] / cpu_curve[-1][1]:.1f} for 12 cutoffs)"
            + (
                ""
                if sizes == full
                else f"; linear to {target_n / 1e6:.2f}M: {snap_est:.0f} s, CPU {snap_cpu:.0f} s"
            ),
            f"<= 60 s: wall {_verdict(snap_est, 60)}, CPU {_verdict(snap_cpu, 60)}; "
            f"<= 8 GB: {_verdict(snap['peak_rss_gb'], 8, 'GB')}",
        )
    )
    sample = run_task("train", "sample", "-", DATA / "model")
    rows.append(
        (
            "training, sample (1,500 customers, fit_and_evaluate)",
            f"{sample['seconds']:.1f} s ({sample['rows']:,} rows)",
            "",
            "",
        )
    )
    train = run_task(
        "train", "snapshots", DATA / "snapshots.parquet", DATA / "model_big", opts.train_rows
    )
    rows.append(
        (f"training, {train['rows']:,} snapshot rows", f"{train['seconds']:.1f} s", "", "")
    )
    spath = DATA / f"cust_{score_customers}_{score_months}m"
    gen = run_task("gen", spath, score_customers, score_months, 0.6)
    sc = run_task("score", spath, DATA / "model", DATA / "ratings.parquet")
    rows.append(
        (
            f"batch scoring, {sc['customers']:,} customers end to end "
            f"({gen['invoices'] / 1e6:.1f}M invoices, {score_months} months), reasons for "
            "every rated customer streamed to Parquet",
            f"{sc['seconds']:.1f} s (CPU {sc['cpu_s']:.1f} s), {sc['peak_rss_gb']:.2f} GB",
            f"model only {sc['model_rows_s']:,.0f} rows/s vs raw inplace_predict "
            f"{sc['raw_rows_s']:,.0f} rows/s; reasons {sc['pattern_reasons_us']:.0f} us/row "
            f"vs exact TreeSHAP per row {sc['exact_shap_us']:.0f} us/row (all cores); top-3 "
            f"codes identical to per-row TreeSHAP on {sc['top3_same']:.1%} of "
            f"{sc['sample']:,} rows",
            f"<= 60 s: {_verdict(sc['seconds'], 60)}" if not opts.quick else "",
        )
    )

    head = "| measurement | result | reference (same run) | target |\n|---|---|---|---|\n"
    table = head + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    note = "" if sizes == full else f" (measured up to {sizes[-1] / 1e6:.0f}M invoices)"
    text = (
        f"\n## {started}{' (--quick: sizes / 10)' if opts.quick else ''}{note}\n\n"
        f"- machine: {machine}\n- versions: {_versions()}\n"
        f"- PAYER_DUCKDB_MEMORY_LIMIT={os.environ['PAYER_DUCKDB_MEMORY_LIMIT']}; Polars is "
        f"not in the lock, so there is no Polars reference\n\n{table}\n"
    )
    text += (
        f"- load average at the end {os.getloadavg()[0]:.1f}: CPU seconds (all threads of the "
        "measured process) are given next to the wall times, being less sensitive to the "
        "other processes sharing the machine\n"
    )
    print(text)
    with open(ROOT / "RESULTS.md", "a") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
