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


def task_features(path: str, engine: str) -> dict:
    from payer_model.features import build_features

    t0 = time.perf_counter()
    tables = _load(Path(path))
    load = time.perf_counter() - t0
    as_of = _as_of(tables)
    t0 = time.perf_counter()
    if engine == "pandas":
        from bench.pandas_reference import pandas_features

        out = pandas_features(tables["invoices"], tables.get("payments"), as_of)
    else:
        out = build_features(
            tables["invoices"],
            as_of,
            customers=tables["customers"],
            payments=tables.get("payments"),
            reminders=tables.get("reminders"),
        )
    return {"seconds": time.perf_counter() - t0, "load_s": load, "rows": len(out)}


def task_groupby(path: str) -> dict:
    import duckdb

    t0 = time.perf_counter()
    n = duckdb.sql(
        f"SELECT customer_id, sum(amount) FROM read_parquet('{path}/invoices.parquet') "
        "GROUP BY customer_id"
    ).fetchall()
    return {"seconds": time.perf_counter() - t0, "rows": len(n)}


def task_snapshots(path: str, out: str) -> dict:
    import pandas as pd

    from payer_model.config import TrainConfig
    from payer_model.modelling.snapshots import build_snapshots, usable

    tables = _load(Path(path))
    end = _as_of(tables).to_period("M").to_timestamp()
    cutoffs = list(pd.date_range(end=end, periods=12, freq="MS"))
    t0 = time.perf_counter()
    snap = build_snapshots(tables, cutoffs, TrainConfig())
    secs = time.perf_counter() - t0
    usable(snap).to_parquet(out, index=False)
    return {"seconds": secs, "rows": len(snap), "cutoffs": len(cutoffs)}


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


def task_score(path: str, model_dir: str, out: str) -> dict:
    import numpy as np

    from payer_model.config import TrainConfig
    from payer_model.features import build_features
    from payer_model.jobs.score import score
    from payer_model.modelling.model import load_bundle, rating_frame

    tables = _load(Path(path))
    model = load_bundle(model_dir)
    as_of = _as_of(tables)
    t0 = time.perf_counter()
    ratings = score(tables, as_of, model, TrainConfig(), model_version="bench")
    ratings.to_parquet(out, index=False)
    e2e = time.perf_counter() - t0
    feats = build_features(
        tables["invoices"],
        as_of,
        customers=tables["customers"],
        payments=tables.get("payments"),
        reminders=tables.get("reminders"),
    )
    t0 = time.perf_counter()
    rating_frame(model, feats)
    model_s = time.perf_counter() - t0
    x = model.encoder_.transform(feats)
    t0 = time.perf_counter()
    for b in model.boosters_:
        np.asarray(b.inplace_predict(x))
    raw_s = time.perf_counter() - t0
    return {
        "seconds": e2e,
        "customers": len(ratings),
        "feature_rows": len(feats),
        "model_rows_s": len(feats) / model_s,
        "raw_rows_s": len(feats) / raw_s,
    }


def check_reference(customers: int = 2000) -> float:
    """Largest absolute difference between the pandas reference and DuckDB on a sample."""
    import numpy as np

    from bench.pandas_reference import CORE, pandas_features
    from payer_model.data.generate import generate_dataset
    from payer_model.features import build_features

    tables = generate_dataset(customers, 24, seed=5)
    as_of = _as_of(tables)
    ref = pandas_features(tables["invoices"], tables["payments"], as_of)
    duck = (
        build_features(
            tables["invoices"], as_of, customers=tables["customers"], payments=tables["payments"]
        )
        .sort_values("customer_id")
        .reset_index(drop=True)
    )
    assert list(ref["customer_id"]) == list(duck["customer_id"]), "customer sets differ"
    diff = 0.0
    for col in CORE:
        a, b = ref[col].to_numpy(float), duck[col].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all(), f"{col}: missing values differ"
        ok = ~np.isnan(a)
        diff = max(diff, float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(1, np.abs(b[ok])))))
    return diff


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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, append it to bench/RESULTS.md."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["task"]:
        _task_main(argv[1], argv[2:])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--quick", action="store_true", help="10x smaller sizes (about 3 min)")
    opts = ap.parse_args(argv)
    scale = 0.1 if opts.quick else 1.0
    sizes = [int(s * scale) for s in (1_000_000, 3_000_000, 10_000_000)]
    score_customers = int(1_000_000 * scale)
    DATA.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = _machine()
    print(f"machine: {machine}", file=sys.stderr)

    rows: list[tuple[str, str, str, str]] = []  # what, result, reference, target
    ref_diff = check_reference()
    rows.append(
        ("pandas reference vs DuckDB (2k customers)", f"max rel diff {ref_diff:.1e}", "", "equal")
    )
    curve = []
    for n in sizes:
        path = DATA / f"inv_{n}"
        gen = run_task("gen", path, _customers_for(n))
        duck = run_task("features", path, "duckdb")
        pand = run_task("features", path, "pandas")
        grp = run_task("groupby", path)
        curve.append((gen["invoices"], duck["seconds"]))
        speed = pand["seconds"] / duck["seconds"]
        target = "<= 10 s, <= 4 GB, >= 4x pandas" if n == sizes[-1] else ""
        rows.append(
            (
                f"features, 1 as-of, {gen['invoices'] / 1e6:.2f}M invoices",
                f"{duck['seconds']:.1f} s, {duck['peak_rss_gb']:.2f} GB RSS "
                f"({duck['rows']:,} customers; Parquet load {duck['load_s']:.1f} s)",
                f"pandas {pand['seconds']:.1f} s / {pand['peak_rss_gb']:.2f} GB ({speed:.1f}x); "
                f"DuckDB group-by {grp['seconds']:.2f} s",
                target,
            )
        )
    (n0, s0), (n1, s1) = curve[0], curve[-1]
    rows.append(
        (
            "cost curve",
            " / ".join(f"{s:.2f} s" for _, s in curve),
            f"x{s1 / s0:.1f} time for x{n1 / n0:.1f} rows",
            "about N log N",
        )
    )
    big = DATA / f"inv_{sizes[-1]}"
    snap = run_task("snapshots", big, DATA / "snapshots.parquet")
    one = [s for _, s in curve][-1]
    rows.append(
        (
            f"training set, 12 monthly cutoffs, {n1 / 1e6:.2f}M invoices",
            f"{snap['seconds']:.1f} s, {snap['peak_rss_gb']:.2f} GB ({snap['rows']:,} rows)",
            f"1 cutoff {one:.1f} s (x{snap['seconds'] / one:.1f} for 12 cutoffs)",
            "<= 60 s" if not opts.quick else "",
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
    train = run_task("train", "snapshots", DATA / "snapshots.parquet", DATA / "model_big")
    rows.append(
        (f"training, {train['rows']:,} snapshot rows", f"{train['seconds']:.1f} s", "", "")
    )
    spath = DATA / f"cust_{score_customers}"
    run_task("gen", spath, score_customers, 12, 0.6)
    sc = run_task("score", spath, DATA / "model", DATA / "ratings.parquet")
    rows.append(
        (
            f"batch scoring, {sc['customers']:,} customers end to end",
            f"{sc['seconds']:.1f} s, {sc['peak_rss_gb']:.2f} GB",
            f"model only {sc['model_rows_s']:,.0f} rows/s vs raw inplace_predict "
            f"{sc['raw_rows_s']:,.0f} rows/s",
            "<= 60 s" if not opts.quick else "",
        )
    )

    head = "| measurement | result | reference (same run) | target |\n|---|---|---|---|\n"
    table = head + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    text = (
        f"\n## {started}{' (--quick: sizes / 10)' if opts.quick else ''}\n\n"
        f"- machine: {machine}\n- versions: {_versions()}\n\n{table}\n"
    )
    print(text)
    with open(ROOT / "RESULTS.md", "a") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
