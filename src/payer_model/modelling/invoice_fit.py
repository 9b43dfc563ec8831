"""Fit and evaluate the invoice model out of time against its baselines, and its gate.

The cutoffs and the time split are the customer model's
(:func:`payer_model.features.labels.plan_cutoffs`): the invoice targets are observed over the
same window E = T + H + G, so the same embargo keeps training targets before validation and
validation targets before the test cutoffs. Baselines (issue 16):

* **late share**: the customer's share of invoices paid late so far (``share_late_0``,
  ``share_late_15`` / ``share_late_30`` for larger tolerances), as P(late);
* **customer mean**: due date + the customer's amount-weighted mean days late, as the date.

Pure computation; :mod:`payer_model.jobs.invoice` logs and registers what this returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from payer_model.config import TrainConfig
from payer_model.features.invoice import compute_invoices
from payer_model.features.labels import CutoffPlan, data_range, plan_cutoffs
from payer_model.modelling.invoice import InvoiceLateModel, invoice_targets
from payer_model.modelling.metrics import expected_calibration_error

log = logging.getLogger(__name__)
_DAY = pd.Timedelta(days=1)


def late_share_baseline(snap: pd.DataFrame, tolerance: int, fallback: float) -> np.ndarray:
    """The customer's past share of late invoices as P(late); ``fallback`` without history."""
    col = (
        "share_late_0"
        if tolerance < 15
        else "share_late_15"
        if tolerance < 30
        else "share_late_30"
    )
    return snap[col].fillna(fallback).to_numpy(dtype=float)


def customer_mean_date(snap: pd.DataFrame, fallback_days: float) -> pd.Series:
    """Due date + the customer's mean days late, never before T (the baseline pay date)."""
    mean = snap["wmean_days_late"].fillna(fallback_days).round()
    date = snap["due_date"] + pd.to_timedelta(mean, unit="D")
    return date.where(date >= snap["as_of"], snap["as_of"])


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Accuracy (at 0.5), AUC, Brier and ECE of probabilities ``p`` for 0/1 ``y``."""
    y, p = np.asarray(y, dtype=int), np.clip(np.asarray(p, dtype=float), 0, 1)
    if len(y) == 0:
        return {"n": 0, "accuracy": None, "auc": None, "brier": None, "ece": None}
    both = np.column_stack([1 - p, p])
    return {
        "n": int(len(y)),
        "positive_share": float(y.mean()),
        "accuracy": float(((p >= 0.5).astype(int) == y).mean()),
        "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, both),
    }


def date_metrics(
    frame: pd.DataFrame, predicted: pd.Series, low: pd.Series | None = None, high=None
) -> dict[str, Any]:
    """MAE in days on invoices paid by E; coverage of [low, high] where it is decidable.

    An invoice unpaid at E is outside the interval when ``high`` is before E, and undecided
    (left out of coverage) otherwise.
    """
    paid = frame["paid_by_e"].to_numpy(dtype=bool)
    err = ((predicted - frame["paid_date"]) / _DAY).abs().to_numpy()
    out: dict[str, Any] = {
        "n_paid": int(paid.sum()),
        "mae_days": float(np.nanmean(err[paid])) if paid.any() else None,
        "median_ae_days": float(np.nanmedian(err[paid])) if paid.any() else None,
    }
    if low is not None:
        inside = (frame["paid_date"] >= low) & (frame["paid_date"] <= high)
        hi = high.fillna(pd.Timestamp.max)
        decided = paid | (hi < frame["obs_end"]).to_numpy()
        covered = np.where(paid, inside.to_numpy(), False)
        out["coverage"] = float(covered[decided].mean()) if decided.any() else None
        out["coverage_n"] = int(decided.sum())
        width = ((high - low) / _DAY).to_numpy(dtype=float)
        out["median_interval_days"] = float(np.nanmedian(width[np.isfinite(width)]))
    return out


def evaluate_invoices(
    model: InvoiceLateModel, test: pd.DataFrame, fit_rows: pd.DataFrame, cfg: TrainConfig
) -> dict[str, Any]:
    """Model and baseline metrics on target-carrying test rows.

    ``fit_rows`` (train + validation) give the baselines' fallbacks for customers without
    history: the portfolio late rate and mean days late.
    """
    ic = cfg.invoice
    pred = model.predict(test)
    late_rate = float(fit_rows["late"].mean())
    late30_rate = float(fit_rows["very_late"].mean())
    mean_late = float(fit_rows["days_late"].mean())
    out: dict[str, Any] = {"model": {}, "baselines": {"late_share": {}, "customer_mean": {}}}
    for target, pcol, tol, rate in (
        ("late", "p_late", ic.late_tolerance_days, late_rate),
        ("very_late", "p_late_30", ic.very_late_days, late30_rate),
    ):
        m = test[target].notna().to_numpy()
        y = test.loc[m, target].to_numpy()
        out["model"][target] = binary_metrics(y, pred.loc[m, pcol].to_numpy())
        out["baselines"]["late_share"][target] = binary_metrics(
            y, late_share_baseline(test.loc[m], tol, rate)
        )
    out["model"]["date"] = date_metrics(
        test, pred["expected_pay_date"], pred["pay_date_low"], pred["pay_date_high"]
    )
    out["baselines"]["customer_mean"]["date"] = date_metrics(
        test, customer_mean_date(test, mean_late)
    )
    out["bands"] = band_table(test, pred)
    return out


def band_table(test: pd.DataFrame, pred: pd.DataFrame) -> list[dict[str, Any]]:
    """Per band: invoices, mean P(late) and the realised late share (the backtest)."""
    rows = []
    for band in ("Low", "Medium", "High"):
        m = (pred["band"] == band) & test["late"].notna()
        rows.append(
            {
                "band": band,
                "invoices": int(m.sum()),
                "mean_p_late": float(pred.loc[m, "p_late"].mean()) if m.any() else None,
                "realised_late_share": float(test.loc[m, "late"].mean()) if m.any() else None,
            }
        )
    return rows


@dataclass
class InvoiceFit:
    """What one invoice training run produced, before anything is logged."""

    plan: CutoffPlan
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    model: InvoiceLateModel
    metrics: dict[str, Any] = field(default_factory=dict)


def invoice_training_set(
    tables: dict[str, Any], cfg: TrainConfig, **engine: Any
) -> tuple[CutoffPlan, dict[str, pd.DataFrame]]:
    """The cutoff plan and the target-carrying invoice snapshots of train, val and test."""
    start, end = data_range(tables["invoices"])
    plan = plan_cutoffs(start, end, cfg.labels, cfg.split)
    snap = compute_invoices(tables, plan.all, cfg, **engine)
    snap = invoice_targets(snap, tables["invoices"], cfg.labels.observation_days, cfg.invoice)
    parts = {
        name: snap[snap["as_of"].isin(pd.DatetimeIndex(cuts))].reset_index(drop=True)
        for name, cuts in (("train", plan.train), ("val", plan.val), ("test", plan.test))
    }
    for name, part in parts.items():
        if len(part) == 0:
            raise ValueError(f"no open invoices at the {name} cutoffs")
    return plan, parts


def fit_invoice_model(tables: dict[str, Any], cfg: TrainConfig, **engine: Any) -> InvoiceFit:
    """Snapshots, model, baselines and out-of-time metrics of the invoice model.

    Raises:
        InsufficientHistoryError: the data is too short for an out-of-time split.
    """
    plan, parts = invoice_training_set(tables, cfg, **engine)
    model = InvoiceLateModel(cfg.invoice, cfg.model.seed).fit(parts["train"], parts["val"])
    fit_rows = pd.concat([parts["train"], parts["val"]], ignore_index=True)
    metrics = evaluate_invoices(model, parts["test"], fit_rows, cfg)
    metrics["windows"] = {
        **plan.to_dict(),
        "rows": {k: len(v) for k, v in parts.items()},
        "censored_share_train": float(np.isinf(parts["train"]["t_upper"]).mean()),
    }
    return InvoiceFit(plan, parts["train"], parts["val"], parts["test"], model, metrics)


def invoice_gate(
    metrics: dict[str, Any], cfg: TrainConfig, champion: dict[str, Any] | None = None
) -> tuple[bool, list[str]]:
    """Promote only when the model beats both baselines (and the champion's AUC, if any).

    Returns:
        (passes, one "pass: ..." / "FAIL: ..." line per check).
    """
    ic = cfg.invoice
    auc = metrics["model"]["late"]["auc"]
    base_auc = metrics["baselines"]["late_share"]["late"]["auc"]
    mae = metrics["model"]["date"]["mae_days"]
    base_mae = metrics["baselines"]["customer_mean"]["date"]["mae_days"]
    checks: list[tuple[bool, str]] = []
    if auc is None or base_auc is None:
        checks.append((False, "AUC undefined on the test window (one class only)"))
    else:
        checks.append(
            (
                auc > base_auc + ic.min_auc_gain,
                f"AUC {auc:.3f} vs late-share baseline {base_auc:.3f} + {ic.min_auc_gain}",
            )
        )
    if mae is None or base_mae is None:
        checks.append((False, "MAE undefined: no invoice paid in the test window"))
    else:
        checks.append(
            (
                mae < base_mae * ic.max_mae_ratio,
                f"MAE {mae:.2f} days vs customer-mean baseline {base_mae:.2f} "
                f"x {ic.max_mae_ratio}",
            )
        )
    if champion is not None and champion.get("auc") is not None and auc is not None:
        checks.append((auc >= champion["auc"], f"AUC {auc:.3f} vs champion {champion['auc']:.3f}"))
    reasons = [("pass: " if ok else "FAIL: ") + text for ok, text in checks]
    return all(ok for ok, _ in checks), reasons
