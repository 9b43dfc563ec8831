"""Monitoring job: drift and segment monitoring between two as-of dates (DESIGN §8).

:func:`monitor` rates and segments the portfolio at a reference and a current date, runs
the Evidently reports through :mod:`payer_model.adapters.drift` (feature drift and data
quality, probability drift, rating and segment distribution drift by customer count and by
open amount), builds the migration matrix and the collections KPIs
(:mod:`payer_model.monitoring`), raises the alerts of :mod:`payer_model.monitoring.alerts`
when the thresholds of :class:`MonitorConfig` are crossed, and writes everything to an
output folder.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from payer_model.data.schema import UNRATED
from payer_model.monitoring.alerts import (
    MonitorConfig,
    bad_share,
    compute_alerts,
    drift_summary,
)

log = logging.getLogger(__name__)


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
    from payer_model.jobs.score import rated_portfolio

    out = rated_portfolio(tables, as_of, model, cfg, model_version=model_version)
    out["open_amt"] = out["open_amt"].fillna(0.0).astype(float)
    out["segment"] = policies.assign(out).astype(str)
    return out


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
    from payer_model.adapters import drift as drift_adapter
    from payer_model.monitoring.portfolio import render_portfolio
    from payer_model.policy.segment import decide_all
    from payer_model.policy.worklist import rank_worklist

    mcfg = thresholds or MonitorConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_ref, t_cur = pd.Timestamp(reference_date), pd.Timestamp(current_date)
    if t_ref >= t_cur:
        raise ValueError(f"reference date {t_ref.date()} must be before {t_cur.date()}")
    ref = portfolio_state(tables, t_ref, model, cfg, policies, model_version=model_version)
    cur = portfolio_state(tables, t_cur, model, cfg, policies, model_version=model_version)

    snaps = drift_adapter.evidently_reports(ref, cur, mcfg)
    drift_adapter.save_reports(snaps, out)
    drift = drift_summary(
        drift_adapter.summarise_snapshot(snaps["count"]),
        drift_adapter.report_values(snaps),
        ref,
        cur,
        mcfg,
    )
    mig, moved = write_migration(ref, cur, out)
    kpis = write_kpis(tables, cur, t_cur, mcfg, out)

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
    worklist = rank_worklist(decisions, t_cur).drop(columns="collector").head(mcfg.worklist_top)

    alerts = compute_alerts(ref, cur, moved, drift, mcfg)
    write_alerts(out / "alerts.jsonl", alerts, t_ref, t_cur)
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
        movers=moved,
    )
    ws_path = Path(workspace or mcfg.workspace)
    ws = _add_to_workspace(snaps, ws_path, mcfg.project)
    summary = {
        **_state_summary(t_ref, t_cur, ref, cur),
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


def _add_to_workspace(snaps: Mapping[str, Any], ws_path: Path, project: str) -> dict[str, str]:
    from payer_model.adapters import drift as drift_adapter

    try:
        return drift_adapter.add_to_workspace(snaps, ws_path, project)
    except Exception as exc:  # the report stands even when the workspace is unusable
        log.warning("could not add the snapshot to %s: %s", ws_path, exc)
        return {"error": str(exc)}


def _shares(frame: pd.DataFrame, col: str) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in frame[col].value_counts(normalize=True).items()}


def _state_summary(
    t_ref: pd.Timestamp, t_cur: pd.Timestamp, ref: pd.DataFrame, cur: pd.DataFrame
) -> dict[str, Any]:
    """Dates, customer counts, rating and segment shares, bad share of the two states."""
    return {
        "reference": str(t_ref.date()),
        "current": str(t_cur.date()),
        "customers": {"reference": len(ref), "current": len(cur)},
        "rating_share": {"reference": _shares(ref, "rating"), "current": _shares(cur, "rating")},
        "segment_share": {
            "reference": _shares(ref, "segment"),
            "current": _shares(cur, "segment"),
        },
        "bad_share_rated": {"reference": bad_share(ref), "current": bad_share(cur)},
    }


def write_migration(
    ref: pd.DataFrame, cur: pd.DataFrame, out: Path
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Migration matrices and movers; writes ``migration*.csv`` and ``movers.csv``."""
    from payer_model.features import NUMERIC_FEATURES
    from payer_model.monitoring.migration import migration_matrix, movers

    mig = migration_matrix(ref, cur)
    moved = movers(ref, cur, NUMERIC_FEATURES)
    mig["counts"].to_csv(out / "migration.csv")
    mig["amounts"].to_csv(out / "migration_amounts.csv")
    moved.to_csv(out / "movers.csv", index=False)
    return mig, moved


def write_kpis(
    tables: Mapping[str, pd.DataFrame | None],
    cur: pd.DataFrame,
    t_cur: pd.Timestamp,
    mcfg: MonitorConfig,
    out: Path,
) -> pd.DataFrame:
    """Collections KPIs per segment for the last ``history_months`` months; ``kpis.csv``."""
    from payer_model.monitoring.kpis import collection_kpis

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
    return kpis


def write_alerts(
    path: Path, alerts: list[dict[str, Any]], t_ref: pd.Timestamp, t_cur: pd.Timestamp
) -> None:
    """Write the alerts as JSON lines, each stamped with the time and the two dates."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with path.open("w") as fh:
        for a in alerts:
            record = {
                "created_at": stamp,
                "reference": str(t_ref.date()),
                "current": str(t_cur.date()),
                **a,
            }
            fh.write(json.dumps(record) + "\n")


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
