"""Batch scoring of open invoices (issue 16 target: 1M open invoices in <= 60 s).

Builds a synthetic book with numpy (``--open`` open invoices at T over ``--open / 10``
customers, each with as many paid invoices of history, reminders and partial payments),
trains a small invoice model on ``data/sample`` and times, in one process:

* the customer features at T (:func:`payer_model.features.compute`) — the reference: the
  invoice snapshot joins them and adds its own columns;
* the invoice snapshots (customer features + invoice features);
* the predictions (P(late), P(>30 days), band, pay date and interval).

Run: ``uv run --frozen python bench/bench_invoice.py --open 1000000``; results are appended
to ``bench/RESULTS.md`` by hand.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pandas as pd


def synthetic_book(n_open: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Open invoices at 2025-01-01 plus one paid invoice of history per open one."""
    rng = np.random.default_rng(seed)
    n_cust = max(n_open // 10, 1)
    t = np.datetime64("2025-01-01")
    n = 2 * n_open
    cust = rng.integers(0, n_cust, n)
    is_open = np.arange(n) < n_open
    age = np.where(is_open, rng.integers(0, 90, n), rng.integers(90, 700, n))
    inv_date = t - age.astype("timedelta64[D]")
    terms = rng.choice([30, 45, 60], n)
    due = inv_date + terms.astype("timedelta64[D]")
    late = rng.gamma(1.5, 8.0, n).astype(int) - 3
    paid = due + late.astype("timedelta64[D]")
    paid = np.where(is_open | (paid >= t), np.datetime64("NaT"), paid)
    ids = np.char.add("I", np.arange(n).astype(str))
    invoices = pd.DataFrame(
        {
            "invoice_id": ids,
            "customer_id": np.char.add("C", cust.astype(str)),
            "invoice_date": pd.to_datetime(inv_date),
            "due_date": pd.to_datetime(due),
            "amount": np.round(rng.lognormal(7, 1, n), 2),
            "paid_date": pd.to_datetime(paid),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": np.char.add("C", np.arange(n_cust).astype(str)),
            "customer_type": "company",
            "industry": "retail",
            "country": "DE",
        }
    )
    k = n_open // 3
    reminders = pd.DataFrame(
        {
            "invoice_id": ids[:k],
            "sent_date": pd.to_datetime(t - rng.integers(1, 30, k).astype("timedelta64[D]")),
            "channel": "email",
        }
    )
    m = n_open // 20
    payments = pd.DataFrame(
        {
            "invoice_id": ids[:m],
            "payment_date": pd.to_datetime(t - rng.integers(1, 30, m).astype("timedelta64[D]")),
            "amount": 10.0,
        }
    )
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "reminders": reminders,
    }


def main() -> None:
    """Time features, snapshots and predictions for ``--open`` open invoices."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--open", type=int, default=1_000_000, help="open invoices at T")
    args = ap.parse_args()

    from payer_model.config import InvoiceConfig, TrainConfig
    from payer_model.data.datasets import load
    from payer_model.features import compute
    from payer_model.features.invoice import compute_invoices
    from payer_model.jobs.invoice import predict_frame
    from payer_model.modelling.invoice_fit import fit_invoice_model

    cfg = TrainConfig(invoice=InvoiceConfig(num_boost_round=300))
    sample, _ = load("data/sample", 600, seed=0)
    model = fit_invoice_model(sample, cfg).model
    book = synthetic_book(args.open)
    as_of = "2025-01-01"
    t0 = time.perf_counter()
    compute(book, as_of, cfg)
    ref_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    snap = compute_invoices(book, as_of, cfg)
    snap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = predict_frame(model, snap)
    pred_s = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        json.dumps(
            {
                "open_invoices": len(snap),
                "invoice_rows_in_book": len(book["invoices"]),
                "customers": len(book["customers"]),
                "customer_features_s (reference)": round(ref_s, 1),
                "invoice_snapshots_s (incl. customer features)": round(snap_s, 1),
                "predict_s": round(pred_s, 1),
                "total_s": round(snap_s + pred_s, 1),
                "target_s": 60,
                "peak_rss_gb": round(rss, 2),
                "bands": pred["band"].value_counts().to_dict(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
