"""Invoice snapshots as of T: one row per invoice open at T (or issued at T), known at T.

The rows are the invoices open at T by the one rule (:func:`payer_model.features.asof.open_mask`:
issued before T, neither paid nor written off before T, so an invoice paid on or after T is
open at T) plus the invoices issued on T itself (scored the day they are issued). Each row
carries its customer's features as of T, joined from :func:`payer_model.features.compute`
(never recomputed), and what is known at T about the invoice itself:

* ``amount``, ``log_amount``, ``amount_rel`` (amount / the customer's mean invoice amount);
* ``terms_days``, ``age_days``, ``days_to_due`` (negative when past due), ``days_past_due``;
* ``reminders_n`` and ``days_since_reminder`` (reminders on this invoice sent before T);
* ``disputed_now`` (a dispute on this invoice dated before T);
* ``open_rank`` (1 = earliest due among the customer's open items), ``open_items_n``,
  ``open_amount_share``;
* ``paid_before`` (partial payments before T), ``partial_share``, ``outstanding``;
* ``due_plus_mean_late`` / ``due_plus_recent_late``: days from T to the due date plus the
  customer's 12-month (else lifetime) mean days late / the mean of its last five payments
  (the naive pay date, given to the trees as one number instead of a sum they would have to
  learn).

Vectorised pandas: a cutoff costs a few merges over its open invoices, so one cutoff with a
million open invoices stays in seconds (``bench/bench_invoice.py`` measures it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from payer_model.features.asof import open_mask
from payer_model.features.definitions import NUMERIC_FEATURES

log = logging.getLogger(__name__)

INVOICE_KEYS: tuple[str, ...] = ("invoice_id", "customer_id", "as_of")
INVOICE_INFO: tuple[str, ...] = ("invoice_date", "due_date")
INVOICE_FEATURES: tuple[str, ...] = (
    "amount",
    "log_amount",
    "amount_rel",
    "terms_days",
    "age_days",
    "days_to_due",
    "days_past_due",
    "reminders_n",
    "days_since_reminder",
    "disputed_now",
    "open_rank",
    "open_items_n",
    "open_amount_share",
    "paid_before",
    "partial_share",
    "outstanding",
    "due_plus_mean_late",
    "due_plus_recent_late",
)
"""Invoice-level features, in model order (the customer's numeric features follow)."""

INVOICE_MODEL_FEATURES: tuple[str, ...] = (*INVOICE_FEATURES, *NUMERIC_FEATURES)
"""Every numeric model input of the invoice model: invoice features, then customer ones."""

INVOICE_COLUMNS: tuple[str, ...] = (*INVOICE_KEYS, *INVOICE_INFO, *INVOICE_MODEL_FEATURES)


def _real_invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    """Invoices without credit notes (negative amounts or ``document_type`` credit_note)."""
    inv = invoices
    keep = pd.to_numeric(inv["amount"], errors="coerce") > 0
    if "document_type" in inv.columns:
        keep &= inv["document_type"].fillna("invoice").astype(str) != "credit_note"
    cols = ["invoice_id", "customer_id", "invoice_date", "due_date", "amount"]
    cols += [c for c in ("paid_date", "written_off_date", "dispute_date") if c in inv.columns]
    out = inv.loc[keep, cols].copy()
    out["invoice_id"] = out["invoice_id"].astype(str)
    out["customer_id"] = out["customer_id"].astype(str)
    for c in ("invoice_date", "due_date", "paid_date", "written_off_date", "dispute_date"):
        if c in out.columns:
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    out["amount"] = out["amount"].astype(float)
    return out


def _events(frame: pd.DataFrame | None, date_col: str, value_col: str | None) -> pd.DataFrame:
    """``invoice_id``, event date (and value) of an optional event table."""
    cols = {"invoice_id": pd.Series(dtype=object), "d": pd.Series(dtype="datetime64[us]")}
    if value_col:
        cols["v"] = pd.Series(dtype=float)
    if frame is None or len(frame) == 0 or date_col not in frame.columns:
        return pd.DataFrame(cols)
    out = pd.DataFrame(
        {
            "invoice_id": frame["invoice_id"].astype(str).to_numpy(),
            "d": pd.to_datetime(frame[date_col]).astype("datetime64[us]").to_numpy(),
        }
    )
    if value_col:
        out["v"] = pd.to_numeric(frame[value_col], errors="coerce").fillna(0.0).to_numpy()
    return out.dropna(subset=["d"])


def _before(events: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """Per invoice: events before ``t`` (count, last date, value sum)."""
    known = events[events["d"] < t]
    agg: dict[str, Any] = {"n": ("d", "size"), "last": ("d", "max")}
    if "v" in events.columns:
        agg["v"] = ("v", "sum")
    return known.groupby("invoice_id", sort=False).agg(**agg)


def _one_cutoff(
    inv: pd.DataFrame,
    reminders: pd.DataFrame,
    payments: pd.DataFrame,
    t: pd.Timestamp,
) -> pd.DataFrame:
    rows = inv.loc[open_mask(inv, t) | (inv["invoice_date"] == t)]
    out = pd.DataFrame(
        {
            "invoice_id": rows["invoice_id"].to_numpy(),
            "customer_id": rows["customer_id"].to_numpy(),
            "invoice_date": rows["invoice_date"].to_numpy(),
            "due_date": rows["due_date"].to_numpy(),
            "amount": rows["amount"].to_numpy(),
        }
    )
    out["as_of"] = t
    day = np.timedelta64(1, "D")
    out["terms_days"] = (out["due_date"] - out["invoice_date"]) / day
    out["age_days"] = (t - out["invoice_date"]) / day
    out["days_to_due"] = (out["due_date"] - t) / day
    out["days_past_due"] = np.maximum(-out["days_to_due"], 0.0)
    if "dispute_date" in rows.columns:
        out["disputed_now"] = (rows["dispute_date"].to_numpy() < t.to_datetime64()).astype(float)
    else:
        out["disputed_now"] = 0.0
    rem = _before(reminders, t)
    pay = _before(payments, t)
    ids = out["invoice_id"]
    out["reminders_n"] = ids.map(rem["n"]).fillna(0).astype(float).to_numpy()
    out["days_since_reminder"] = (t - ids.map(rem["last"]).astype("datetime64[us]")) / day
    paid = ids.map(pay["v"]).fillna(0.0).astype(float).to_numpy()
    out["paid_before"] = np.minimum(paid, out["amount"].to_numpy())
    out["partial_share"] = out["paid_before"] / out["amount"]
    out["outstanding"] = out["amount"] - out["paid_before"]
    by_cust = out.groupby("customer_id", sort=False)
    out["open_rank"] = by_cust["due_date"].rank(method="first").astype(float)
    out["open_items_n"] = by_cust["invoice_id"].transform("size").astype(float)
    out["open_amount_share"] = out["outstanding"] / by_cust["outstanding"].transform("sum")
    return out


def invoice_snapshots(
    tables: Mapping[str, Any],
    customer_features: pd.DataFrame,
    cutoffs: date | str | Sequence,
) -> pd.DataFrame:
    """Invoice rows open (or issued) at each cutoff, joined to their customer's features.

    Args:
        tables: the contract tables (``invoices``; optional ``payments``, ``reminders``).
        customer_features: :func:`payer_model.features.compute` at the same cutoffs.
        cutoffs: one cutoff T or many (start of day).

    Returns:
        One row per invoice and cutoff, columns ``INVOICE_COLUMNS`` (plus the customer's
        categorical features), sorted by as_of, customer_id and due date.
    """
    if isinstance(cutoffs, str | date | pd.Timestamp):
        cutoffs = [cutoffs]
    cuts = sorted(set(pd.to_datetime(list(cutoffs)).normalize()))
    inv = _real_invoices(tables["invoices"])
    reminders = _events(tables.get("reminders"), "sent_date", None)
    payments = _events(tables.get("payments"), "payment_date", "amount")
    if not cuts:
        raise ValueError("no cutoff given: pass one as-of date or more")
    parts = [_one_cutoff(inv, reminders, payments, t) for t in cuts]
    out = pd.concat(parts, ignore_index=True)
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")
    cf = customer_features.copy()
    cf["customer_id"] = cf["customer_id"].astype(str)
    cf["as_of"] = pd.to_datetime(cf["as_of"]).astype("datetime64[us]")
    customer_cols = [
        c for c in cf.columns if c not in out.columns or c in ("customer_id", "as_of")
    ]
    out = out.merge(cf[customer_cols], on=["customer_id", "as_of"], how="left")
    mean_amt = out["mean_invoice_amt"].where(out["mean_invoice_amt"] > 0)
    out["log_amount"] = np.log1p(out["amount"])
    out["amount_rel"] = out["amount"] / mean_amt
    mean_late = out["wmean_days_late_12m"].fillna(out["wmean_days_late"])
    out["due_plus_mean_late"] = out["days_to_due"] + mean_late
    out["due_plus_recent_late"] = out["days_to_due"] + out["last5_mean_days_late"]
    extra = [c for c in out.columns if c not in INVOICE_COLUMNS]
    out = out[[*INVOICE_COLUMNS, *extra]]
    log.info("built %d invoice snapshots over %d cutoffs", len(out), len(cuts))
    return out.sort_values(["as_of", "customer_id", "due_date", "invoice_id"]).reset_index(
        drop=True
    )


def compute_invoices(
    tables: Mapping[str, Any], as_of: date | str | Sequence, cfg: Any, **engine: Any
) -> pd.DataFrame:
    """Invoice snapshots with the customer features of :func:`payer_model.features.compute`.

    Args:
        tables: the contract tables (a mapping with ``invoices`` and the optional tables).
        as_of: one cutoff or many.
        cfg: the training configuration (feature windows and label definition).
        **engine: engine selection for the customer features (``con=``, ``engine=``).

    Returns:
        See :func:`invoice_snapshots`.
    """
    from payer_model.features.dispatch import compute

    cuts = [as_of] if isinstance(as_of, str | date | pd.Timestamp) else list(as_of)
    feats = compute(tables, cuts, cfg, **engine)
    return invoice_snapshots(tables, feats, cuts)
