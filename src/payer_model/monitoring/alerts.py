"""Drift thresholds and alerts of the monitoring job (DESIGN §8): pure, no Evidently.

:class:`MonitorConfig` holds the thresholds (``monitoring:`` in ``monitor.yaml``);
:func:`distribution_drift` measures a categorical shift by count or by amount;
:func:`drift_summary` combines those with the report values read by the drift adapter;
:func:`compute_alerts` lists the thresholds crossed between two portfolio states.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payer_model.config import ConfigError
from payer_model.data.schema import RATINGS

DEFAULT_MONITOR_CONFIG = Path("training/configs/monitor.yaml")

# Behaviour features compared between the dates; cumulative counters (tenure, lifetime
# totals) grow with time by construction and would always "drift".
DRIFT_FEATURES: tuple[str, ...] = (
    "wmean_days_late_12m",
    "median_days_late_12m",
    "p90_days_late_12m",
    "last5_mean_days_late",
    "mean_days_late_90d",
    "trend_days_late",
    "overdue_share",
    "oldest_overdue_days",
    "credit_utilisation",
    "dispute_rate",
    "reminder_response_rate",
    "mean_invoice_amt",
    "share_late_15",
    "share_late_30",
)
PROBABILITIES: tuple[str, ...] = ("p_good", "p_average", "p_bad")


class MonitorConfig(BaseModel):
    """Thresholds and outputs of ``payer-model monitor`` (``monitoring:`` in monitor.yaml)."""

    model_config = ConfigDict(extra="forbid")

    drift_features: list[str] = Field(default_factory=lambda: list(DRIFT_FEATURES))
    feature_method: str = "wasserstein"
    feature_threshold: float = 0.1
    probability_method: str = "wasserstein"
    probability_threshold: float = 0.1
    distribution_methods: list[str] = Field(
        default_factory=lambda: ["chisquare", "psi", "jensenshannon"]
    )
    psi_threshold: float = 0.1
    js_threshold: float = 0.1
    feature_drift_share: float = Field(0.5, description="alert when this share drifts")
    segment_share_shift: float = Field(0.10, description="alert: a segment share moves > this")
    bad_share_up: float = Field(0.05, description="alert: bad share rises by more than this")
    two_class_down_share: float = Field(
        0.10, description="alert: share of good customers now bad (0: any single customer)"
    )
    large_exposure_share: float = Field(
        0.20, description="alert: share of the open amount that moved into bad"
    )
    large_exposure: float | None = Field(
        None, description="alert: any one customer with this open amount moving to bad"
    )
    webhook_url: str | None = None
    webhook_timeout_s: float = 3.0
    workspace: str = "reports/workspace"
    project: str = "payer-model"
    history_months: int = 6
    worklist_top: int = 20
    useless_days: int = 3


def load_monitor_config(path: str | Path | None = None) -> MonitorConfig:
    """Read the ``monitoring:`` section of a YAML file; defaults when there is no file."""
    p = Path(path) if path is not None else DEFAULT_MONITOR_CONFIG
    if not p.exists():
        if path is not None:
            raise ConfigError(f"monitor config not found: {p}")
        return MonitorConfig()
    try:
        raw = yaml.safe_load(p.read_text()) or {}
        return MonitorConfig.model_validate(raw.get("monitoring") or {})
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{p}: monitoring.{loc}: {first['msg']}") from None


def distribution_drift(
    reference: pd.Series,
    current: pd.Series,
    ref_weights: pd.Series | None = None,
    cur_weights: pd.Series | None = None,
) -> dict[str, Any]:
    """PSI and Jensen-Shannon distance of a categorical distribution (optionally weighted).

    Returns:
        ``shares_ref``, ``shares_cur`` (by category), ``psi`` and ``js``.
    """
    from scipy.spatial.distance import jensenshannon

    rw = pd.Series(1.0, index=reference.index) if ref_weights is None else ref_weights
    cw = pd.Series(1.0, index=current.index) if cur_weights is None else cur_weights
    a = rw.groupby(reference.astype(str).to_numpy()).sum()
    b = cw.groupby(current.astype(str).to_numpy()).sum()
    cats = sorted(set(a.index) | set(b.index))
    p = a.reindex(cats, fill_value=0.0) / max(float(a.sum()), 1e-12)
    q = b.reindex(cats, fill_value=0.0) / max(float(b.sum()), 1e-12)
    eps = 1e-4
    pe, qe = np.clip(p.to_numpy(), eps, None), np.clip(q.to_numpy(), eps, None)
    return {
        "shares_ref": {k: round(float(v), 4) for k, v in p.items()},
        "shares_cur": {k: round(float(v), 4) for k, v in q.items()},
        "psi": float(np.sum((qe - pe) * np.log(qe / pe))),
        "js": float(jensenshannon(p.to_numpy(), q.to_numpy(), base=2)),
    }


def feature_drift(values: Mapping[str, Any], mcfg: MonitorConfig) -> dict[str, Any]:
    """Per monitored feature: the first drift value Evidently reported and whether it drifted."""
    return {
        c: {"value": v[m]["value"], "drifted": v[m]["value"] >= mcfg.feature_threshold}
        for c, v in values.items()
        if c in mcfg.drift_features
        for m in list(v)[:1]
    }


def drift_summary(
    count: Mapping[str, Any],
    report_values: Mapping[str, Any],
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    mcfg: MonitorConfig,
) -> dict[str, Any]:
    """The ``drift`` section of the monitoring summary.

    Args:
        count: Summary of the by-count Evidently snapshot (``drift_share``,
            ``drifted_columns``, ``values``).
        report_values: The drift values of the reports, keyed by the report engine
            (``{engine: {"count": ..., "amount": ...}}``), kept as they are.
        ref: Portfolio state at the reference date (``rating``, ``segment``, ``open_amt``).
        cur: Portfolio state at the current date.
        mcfg: Thresholds.
    """
    return {
        "drift_share": count["drift_share"],
        "drifted_columns": count["drifted_columns"],
        "feature_drift": feature_drift(count["values"], mcfg),
        **report_values,
        "by_count": {c: distribution_drift(ref[c], cur[c]) for c in ("rating", "segment")},
        "by_amount": {
            c: distribution_drift(ref[c], cur[c], ref["open_amt"], cur["open_amt"])
            for c in ("rating", "segment")
        },
    }


Alert = dict[str, Any]


def alert(
    kind: str, message: str, value: float, threshold: float, customers: list[str] | None = None
) -> Alert:
    """One alert record (``type``, ``message``, ``value``, ``threshold``, ``customers``)."""
    return {
        "type": kind,
        "message": message,
        "value": round(float(value), 4),
        "threshold": threshold,
        "customers": customers or [],
    }


def _bad_share_up(ref, cur, moved, mcfg: MonitorConfig) -> list[Alert]:
    rated_r = ref[ref["rating"].isin(RATINGS)]
    rated_c = cur[cur["rating"].isin(RATINGS)]
    bad_r = float((rated_r["rating"] == "bad").mean()) if len(rated_r) else 0.0
    bad_c = float((rated_c["rating"] == "bad").mean()) if len(rated_c) else 0.0
    if bad_c - bad_r <= mcfg.bad_share_up:
        return []
    newly = moved.loc[moved["to"] == "bad", "customer_id"].tolist()
    return [
        alert(
            "bad_share_up",
            f"bad share of rated customers rose from {bad_r:.1%} to {bad_c:.1%} "
            f"(+{(bad_c - bad_r) * 100:.1f} points); {len(newly)} customers moved to bad",
            bad_c - bad_r,
            mcfg.bad_share_up,
            newly,
        )
    ]


def _segment_share_shifts(ref, cur, mcfg: MonitorConfig) -> list[Alert]:
    out = []
    seg_r = ref["segment"].value_counts(normalize=True)
    seg_c = cur["segment"].value_counts(normalize=True)
    for seg in sorted(set(seg_r.index) | set(seg_c.index)):
        a, b = float(seg_r.get(seg, 0.0)), float(seg_c.get(seg, 0.0))
        if abs(b - a) > mcfg.segment_share_shift:
            into = cur.loc[(cur["segment"] == seg), "customer_id"]
            was = set(ref.loc[ref["segment"] == seg, "customer_id"])
            changed = sorted(set(into) ^ was)
            out.append(
                alert(
                    "segment_share_shift",
                    f"segment '{seg}' share moved from {a:.1%} to {b:.1%}; "
                    f"{len(changed)} customers entered or left it",
                    b - a,
                    mcfg.segment_share_shift,
                    changed,
                )
            )
    return out


def _feature_drift_share(drift: Mapping[str, Any], mcfg: MonitorConfig) -> list[Alert]:
    share = drift.get("drift_share")
    if share is None or not share >= mcfg.feature_drift_share:
        return []
    cols = [c for c, v in drift.get("feature_drift", {}).items() if v.get("drifted")]
    return [
        alert(
            "feature_drift_share",
            f"{share:.0%} of the monitored features drifted ({', '.join(cols)})",
            share,
            mcfg.feature_drift_share,
        )
    ]


def _two_class_down(ref, moved, mcfg: MonitorConfig) -> list[Alert]:
    down = moved[(moved["from"] == "good") & (moved["to"] == "bad")]
    n_good = max(int((ref["rating"] == "good").sum()), 1)
    if not len(down) or len(down) / n_good <= mcfg.two_class_down_share:
        return []
    return [
        alert(
            "two_class_down",
            f"{len(down)} customers ({len(down) / n_good:.1%} of the good ones) moved two "
            "classes down (good -> bad): "
            + "; ".join(f"{r.customer_id} ({r.reason})" for r in down.head(10).itertuples()),
            len(down) / n_good,
            mcfg.two_class_down_share,
            down["customer_id"].tolist(),
        )
    ]


def _large_exposure_to_bad(cur, moved, mcfg: MonitorConfig) -> list[Alert]:
    into_bad = moved[(moved["to"] == "bad") & (moved["from"] != "bad")].sort_values(
        "open_amt", ascending=False
    )
    total = max(float(cur["open_amt"].clip(lower=0).sum()), 1e-9)
    share_bad = float(into_bad["open_amt"].sum()) / total
    big = (
        into_bad[into_bad["open_amt"] >= mcfg.large_exposure]
        if mcfg.large_exposure is not None
        else into_bad.iloc[:0]
    )
    if not len(into_bad) or not (share_bad > mcfg.large_exposure_share or len(big)):
        return []
    shown = big if len(big) else into_bad
    return [
        alert(
            "large_exposure_to_bad",
            f"{share_bad:.1%} of the open amount ({into_bad['open_amt'].sum():,.0f}) moved "
            f"into bad with {len(into_bad)} customers; largest: "
            + "; ".join(
                f"{r.customer_id} open {r.open_amt:,.0f} ({r.reason})"
                for r in shown.head(10).itertuples()
            ),
            share_bad,
            mcfg.large_exposure_share,
            shown["customer_id"].tolist(),
        )
    ]


def compute_alerts(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    moved: pd.DataFrame,
    drift: Mapping[str, Any],
    mcfg: MonitorConfig,
) -> list[Alert]:
    """Alerts for the thresholds crossed between the reference and the current state.

    Args:
        ref: Portfolio state at the reference date (``customer_id``, ``rating``,
            ``segment``, ``open_amt``).
        cur: Portfolio state at the current date.
        moved: Customers whose rating changed (``from``, ``to``, ``open_amt``, ``reason``).
        drift: The ``drift`` section (:func:`drift_summary`).
        mcfg: Thresholds.

    Returns:
        In order: bad share up, segment share shifts, feature drift share, two classes
        down, large exposure moving into bad.
    """
    return [
        *_bad_share_up(ref, cur, moved, mcfg),
        *_segment_share_shifts(ref, cur, mcfg),
        *_feature_drift_share(drift, mcfg),
        *_two_class_down(ref, moved, mcfg),
        *_large_exposure_to_bad(cur, moved, mcfg),
    ]


def bad_share(frame: pd.DataFrame) -> float:
    """Share of ``bad`` among the rated customers of a portfolio state (0 when none)."""
    rated = frame[frame["rating"].isin(RATINGS)]
    return round(float((rated["rating"] == "bad").mean()), 4) if len(rated) else 0.0
