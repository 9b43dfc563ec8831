"""Drift and segment monitoring between two as-of dates (the Evidently adapter, DESIGN §8).

:func:`monitor` rates and segments the portfolio at a reference and a current date, runs
Evidently reports (feature drift and data quality, probability drift, rating and segment
distribution drift by customer count and by open amount), builds the migration matrix and
the collections KPIs, raises alerts when the thresholds of :class:`MonitorConfig` are
crossed, and writes everything to an output folder. Evidently is imported inside the
functions that use it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payer_model.config import ConfigError
from payer_model.data.schema import RATINGS, UNRATED

log = logging.getLogger(__name__)

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


def portfolio_state(
    tables: Mapping[str, pd.DataFrame | None],
    as_of: Any,
    model,
    cfg,
    policies,
    *,
    model_version: str = "local",
) -> pd.DataFrame:
    """Ratings merged with the as-of features and the policy segment of every customer."""
    from payer_model.jobs.train import rated_portfolio

    out = rated_portfolio(tables, as_of, model, cfg, model_version=model_version)
    out["open_amt"] = out["open_amt"].fillna(0.0).astype(float)
    out["segment"] = policies.assign(out).astype(str)
    return out


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


def _amount_sample(frame: pd.DataFrame, size: int = 2000) -> pd.DataFrame:
    """Rows repeated in proportion to their open amount: an amount-weighted sample."""
    w = frame["open_amt"].clip(lower=0.0).to_numpy()
    total = w.sum()
    if total <= 0:
        return frame.iloc[:0]
    reps = np.rint(w / total * size).astype(int)
    return frame.loc[frame.index.repeat(reps)].reset_index(drop=True)


def evidently_reports(
    reference: pd.DataFrame, current: pd.DataFrame, mcfg: MonitorConfig
) -> dict[str, Any]:
    """Run the Evidently reports; returns ``{"count": Snapshot, "amount": Snapshot}``."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    feats = [f for f in mcfg.drift_features if f in reference.columns]
    cats = ["rating", "segment"]
    cols = [*feats, *PROBABILITIES, *cats]
    definition = DataDefinition(
        numerical_columns=[*feats, *PROBABILITIES], categorical_columns=cats
    )

    def ds(frame: pd.DataFrame):
        f = frame[cols].copy()
        for c in cats:
            f[c] = f[c].astype(str)
        return Dataset.from_pandas(f, data_definition=definition)

    def dist_metrics(with_chi: bool) -> list:
        out = []
        for col in cats:
            for method in mcfg.distribution_methods:
                if method == "chisquare" and not with_chi:
                    continue
                thr = {"psi": mcfg.psi_threshold, "jensenshannon": mcfg.js_threshold}.get(method)
                out.append(ValueDrift(column=col, method=method, threshold=thr))
        return out

    count = Report(
        [
            DataDriftPreset(
                columns=feats,
                method=mcfg.feature_method,
                threshold=mcfg.feature_threshold,
                drift_share=mcfg.feature_drift_share,
            ),
            DataSummaryPreset(columns=feats),
            *[
                ValueDrift(
                    column=p, method=mcfg.probability_method, threshold=mcfg.probability_threshold
                )
                for p in PROBABILITIES
            ],
            *dist_metrics(with_chi=True),
        ]
    )
    out = {"count": count.run(ds(current), ds(reference), name="features, scores, segments")}
    ref_a, cur_a = _amount_sample(reference), _amount_sample(current)
    if len(ref_a) and len(cur_a):
        # chi-square p-values on a pseudo-sample would be meaningless: PSI and JS only
        amount = Report(dist_metrics(with_chi=False))
        out["amount"] = amount.run(ds(cur_a), ds(ref_a), name="rating and segment by amount")
    return out


def _metric_values(snapshot) -> list[dict[str, Any]]:
    return json.loads(snapshot.json())["metrics"]


def summarise_snapshot(snapshot) -> dict[str, Any]:
    """Drift values of a snapshot: ``drift_share`` and ``{column: {method: value}}``."""
    out: dict[str, Any] = {"drift_share": None, "drifted_columns": None, "values": {}}
    for m in _metric_values(snapshot):
        conf = m.get("config", {})
        kind = conf.get("type", "")
        if kind.endswith("DriftedColumnsCount"):
            out["drift_share"] = float(m["value"]["share"])
            out["drifted_columns"] = int(m["value"]["count"])
        elif kind.endswith("ValueDrift"):
            method = conf.get("method") or "default"
            out["values"].setdefault(conf["column"], {})[method] = {
                "value": float(m["value"]),
                "threshold": conf.get("threshold"),
            }
    return out


def add_to_workspace(
    snapshots: Mapping[str, Any], path: str | Path, project: str
) -> dict[str, str]:
    """Add snapshots to a local Evidently workspace project (created when missing)."""
    from evidently.ui.workspace import Workspace

    ws = Workspace(str(path))
    found = ws.search_project(project)
    proj = found[0] if found else ws.create_project(project, description="payer-model drift")
    ids = {}
    for name, snap in snapshots.items():
        ref = ws.add_run(proj.id, snap, include_data=False)
        ids[name] = str(ref.id)
    return {"project_id": str(proj.id), **ids}


def compute_alerts(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    moved: pd.DataFrame,
    drift: Mapping[str, Any],
    mcfg: MonitorConfig,
) -> list[dict[str, Any]]:
    """Alerts for the thresholds crossed between the reference and the current state."""
    alerts: list[dict[str, Any]] = []

    def add(
        kind: str, message: str, value: float, threshold: float, customers: list[str] | None = None
    ) -> None:
        alerts.append(
            {
                "type": kind,
                "message": message,
                "value": round(float(value), 4),
                "threshold": threshold,
                "customers": customers or [],
            }
        )

    rated_r = ref[ref["rating"].isin(RATINGS)]
    rated_c = cur[cur["rating"].isin(RATINGS)]
    bad_r = float((rated_r["rating"] == "bad").mean()) if len(rated_r) else 0.0
    bad_c = float((rated_c["rating"] == "bad").mean()) if len(rated_c) else 0.0
    if bad_c - bad_r > mcfg.bad_share_up:
        newly = moved.loc[moved["to"] == "bad", "customer_id"].tolist()
        add(
            "bad_share_up",
            f"bad share of rated customers rose from {bad_r:.1%} to {bad_c:.1%} "
            f"(+{(bad_c - bad_r) * 100:.1f} points); {len(newly)} customers moved to bad",
            bad_c - bad_r,
            mcfg.bad_share_up,
            newly,
        )
    seg_r = ref["segment"].value_counts(normalize=True)
    seg_c = cur["segment"].value_counts(normalize=True)
    for seg in sorted(set(seg_r.index) | set(seg_c.index)):
        a, b = float(seg_r.get(seg, 0.0)), float(seg_c.get(seg, 0.0))
        if abs(b - a) > mcfg.segment_share_shift:
            into = cur.loc[(cur["segment"] == seg), "customer_id"]
            was = set(ref.loc[ref["segment"] == seg, "customer_id"])
            changed = sorted(set(into) ^ was)
            add(
                "segment_share_shift",
                f"segment '{seg}' share moved from {a:.1%} to {b:.1%}; "
                f"{len(changed)} customers entered or left it",
                b - a,
                mcfg.segment_share_shift,
                changed,
            )
    share = drift.get("drift_share")
    if share is not None and share >= mcfg.feature_drift_share:
        cols = [c for c, v in drift.get("feature_drift", {}).items() if v.get("drifted")]
        add(
            "feature_drift_share",
            f"{share:.0%} of the monitored features drifted ({', '.join(cols)})",
            share,
            mcfg.feature_drift_share,
        )
    down = moved[(moved["from"] == "good") & (moved["to"] == "bad")]
    n_good = max(int((ref["rating"] == "good").sum()), 1)
    if len(down) and len(down) / n_good > mcfg.two_class_down_share:
        add(
            "two_class_down",
            f"{len(down)} customers ({len(down) / n_good:.1%} of the good ones) moved two "
            "classes down (good -> bad): "
            + "; ".join(f"{r.customer_id} ({r.reason})" for r in down.head(10).itertuples()),
            len(down) / n_good,
            mcfg.two_class_down_share,
            down["customer_id"].tolist(),
        )
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
    if len(into_bad) and (share_bad > mcfg.large_exposure_share or len(big)):
        shown = big if len(big) else into_bad
        add(
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
    return alerts


def post_webhook(url: str, alerts: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    """POST the alerts as JSON; never raises (a down webhook is recorded, not fatal)."""
    body = json.dumps({"source": "payer-model monitor", "alerts": alerts}).encode()
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return {"ok": True, "status": resp.status}
    except Exception as exc:  # the run must not fail because the webhook is down
        log.warning("webhook %s failed: %s", url, exc)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def monitor(
    tables: Mapping[str, pd.DataFrame | None],
    reference_date: Any,
    current_date: Any,
    model,
    cfg,
    policies,
    out_dir: str | Path,
    thresholds: MonitorConfig | None = None,
    *,
    model_version: str = "local",
    workspace: str | Path | None = None,
) -> dict[str, Any]:
    """Compare the portfolio at two as-of dates and write the monitoring outputs.

    Writes ``report.html`` (Evidently, by count), ``report_amount.html`` (by open amount),
    ``snapshot.json``, ``migration.csv``, ``movers.csv``, ``kpis.csv``, ``alerts.jsonl``,
    ``summary.json`` and ``portfolio.html`` to ``out_dir``, and adds the snapshots to the
    Evidently workspace.

    Returns:
        The summary: dates, shares, drift values, migration, KPIs, alerts, file paths.
    """
    from payer_model.features import NUMERIC_FEATURES
    from payer_model.monitoring.kpis import collection_kpis
    from payer_model.monitoring.migration import migration_matrix, movers
    from payer_model.monitoring.portfolio import render_portfolio
    from payer_model.policy.engine import decide_all

    mcfg = thresholds or MonitorConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_ref, t_cur = pd.Timestamp(reference_date), pd.Timestamp(current_date)
    if t_ref >= t_cur:
        raise ValueError(f"reference date {t_ref.date()} must be before {t_cur.date()}")
    ref = portfolio_state(tables, t_ref, model, cfg, policies, model_version=model_version)
    cur = portfolio_state(tables, t_cur, model, cfg, policies, model_version=model_version)

    snaps = evidently_reports(ref, cur, mcfg)
    snaps["count"].save_html(str(out / "report.html"))
    snaps["count"].save_json(str(out / "snapshot.json"))
    if "amount" in snaps:
        snaps["amount"].save_html(str(out / "report_amount.html"))
        snaps["amount"].save_json(str(out / "snapshot_amount.json"))
    count = summarise_snapshot(snaps["count"])
    feature_drift = {
        c: {"value": v[m]["value"], "drifted": v[m]["value"] >= mcfg.feature_threshold}
        for c, v in count["values"].items()
        if c in mcfg.drift_features
        for m in list(v)[:1]
    }
    drift = {
        "drift_share": count["drift_share"],
        "drifted_columns": count["drifted_columns"],
        "feature_drift": feature_drift,
        "evidently": {
            "count": count["values"],
            "amount": summarise_snapshot(snaps["amount"])["values"] if "amount" in snaps else {},
        },
        "by_count": {c: distribution_drift(ref[c], cur[c]) for c in ("rating", "segment")},
        "by_amount": {
            c: distribution_drift(ref[c], cur[c], ref["open_amt"], cur["open_amt"])
            for c in ("rating", "segment")
        },
    }

    mig = migration_matrix(ref, cur)
    moved = movers(ref, cur, NUMERIC_FEATURES)
    mig["counts"].to_csv(out / "migration.csv")
    mig["amounts"].to_csv(out / "migration_amounts.csv")
    moved.to_csv(out / "movers.csv", index=False)

    first = (t_cur - pd.DateOffset(months=mcfg.history_months)).to_period("M")
    months = pd.period_range(first, (t_cur - pd.Timedelta(days=1)).to_period("M"), freq="M")
    segments = cur.set_index("customer_id")["segment"]
    kpis = collection_kpis(
        tables["invoices"],
        segments,
        list(months),
        tables.get("reminders"),
        useless_days=mcfg.useless_days,
    )
    kpis.to_csv(out / "kpis.csv", index=False)

    history = segment_history(
        tables,
        t_cur,
        model,
        cfg,
        policies,
        mcfg.history_months,
        model_version=model_version,
        known={t_ref: ref, t_cur: cur},
    )
    decisions = decide_all(tables, cur, t_cur, policies)
    worklist = (
        pd.DataFrame(
            [
                {
                    "customer_id": d.customer_id,
                    "segment": d.segment,
                    "rating": d.rating,
                    "priority": d.priority,
                    "open_amt": d.open_amt,
                    "overdue_amt": d.overdue_amt,
                }
                for d in decisions
            ]
        )
        .sort_values("priority", ascending=False)
        .head(mcfg.worklist_top)
    )

    alerts = compute_alerts(ref, cur, moved, drift, mcfg)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with (out / "alerts.jsonl").open("w") as fh:
        for a in alerts:
            fh.write(
                json.dumps(
                    {
                        "created_at": stamp,
                        "reference": str(t_ref.date()),
                        "current": str(t_cur.date()),
                        **a,
                    }
                )
                + "\n"
            )
    webhook = None
    if alerts and mcfg.webhook_url:
        webhook = post_webhook(mcfg.webhook_url, alerts, mcfg.webhook_timeout_s)

    render_portfolio(
        out / "portfolio.html",
        as_of=t_cur,
        history=history,
        migration=mig["counts"],
        kpis=kpis,
        worklist=worklist,
        alerts=alerts,
    )
    ws_path = Path(workspace or mcfg.workspace)
    try:
        ws = add_to_workspace(snaps, ws_path, mcfg.project)
    except Exception as exc:  # the report stands even when the workspace is unusable
        log.warning("could not add the snapshot to %s: %s", ws_path, exc)
        ws = {"error": str(exc)}

    def shares(frame: pd.DataFrame, col: str) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in frame[col].value_counts(normalize=True).items()}

    summary = {
        "reference": str(t_ref.date()),
        "current": str(t_cur.date()),
        "customers": {"reference": len(ref), "current": len(cur)},
        "rating_share": {"reference": shares(ref, "rating"), "current": shares(cur, "rating")},
        "segment_share": {"reference": shares(ref, "segment"), "current": shares(cur, "segment")},
        "bad_share_rated": {"reference": _bad_share(ref), "current": _bad_share(cur)},
        "drift": drift,
        "migration": {"counts": mig["counts"].to_dict(orient="index"), "moved": len(moved)},
        "alerts": alerts,
        "webhook": webhook,
        "workspace": {"path": str(ws_path), **ws},
        "files": {p.name: str(p) for p in sorted(out.iterdir()) if p.is_file()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    summary["files"]["summary.json"] = str(out / "summary.json")
    return summary


def _bad_share(frame: pd.DataFrame) -> float:
    rated = frame[frame["rating"].isin(RATINGS)]
    return round(float((rated["rating"] == "bad").mean()), 4) if len(rated) else 0.0


def segment_history(
    tables: Mapping[str, pd.DataFrame | None],
    as_of: pd.Timestamp,
    model,
    cfg,
    policies,
    months: int,
    *,
    model_version: str = "local",
    known: Mapping[pd.Timestamp, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Segment counts at each month start of the last ``months`` months and at ``as_of``."""
    dates = [
        d
        for d in pd.date_range(as_of - pd.DateOffset(months=months), as_of, freq="MS")
        if d < as_of
    ] + [as_of]
    rows = []
    for d in dates:
        state = (known or {}).get(d)
        if state is None:
            state = portfolio_state(tables, d, model, cfg, policies, model_version=model_version)
        for seg, n in state["segment"].value_counts().items():
            rows.append({"as_of": str(d.date()), "segment": seg, "customers": int(n)})
    frame = pd.DataFrame(rows, columns=["as_of", "segment", "customers"])
    return frame[frame["segment"] != UNRATED]
