"""Evidently adapter (DESIGN §8): drift reports, their summaries and the local workspace.

The only module that imports Evidently, always inside functions. It reads portfolio states
(ratings, probabilities, segments and the monitored features) and the thresholds of
:class:`payer_model.monitoring.alerts.MonitorConfig`; the monitoring job composes it with
the pure drift and alert logic of :mod:`payer_model.monitoring.alerts`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.monitoring.alerts import PROBABILITIES, MonitorConfig


def amount_sample(frame: pd.DataFrame, size: int = 2000) -> pd.DataFrame:
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
    ref_a, cur_a = amount_sample(reference), amount_sample(current)
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


def report_values(snapshots: Mapping[str, Any]) -> dict[str, Any]:
    """Drift values of the reports, for the monitoring summary: ``{"evidently": {...}}``."""
    amount = snapshots.get("amount")
    return {
        "evidently": {
            "count": summarise_snapshot(snapshots["count"])["values"],
            "amount": summarise_snapshot(amount)["values"] if amount is not None else {},
        }
    }


def save_reports(snapshots: Mapping[str, Any], out: Path) -> None:
    """Write the reports: ``report.html`` / ``snapshot.json`` (by count) and the by-amount pair."""
    snapshots["count"].save_html(str(out / "report.html"))
    snapshots["count"].save_json(str(out / "snapshot.json"))
    if "amount" in snapshots:
        snapshots["amount"].save_html(str(out / "report_amount.html"))
        snapshots["amount"].save_json(str(out / "snapshot_amount.json"))
