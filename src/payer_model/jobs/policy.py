"""Policy jobs (DESIGN §6): the audited collector worklist, and the policy replay.

Both rate the portfolio with the registered champion, apply the segment policies and return
a plain dict; the CLI prints it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from payer_model.adapters.audit import AuditStore
from payer_model.config import TrainConfig
from payer_model.jobs.champion import load_champion
from payer_model.jobs.score import rated_portfolio
from payer_model.policy.decide import Decision
from payer_model.policy.policies import PolicySet
from payer_model.policy.segment import decide_all
from payer_model.policy.simulate import simulate_policy
from payer_model.policy.worklist import collector_totals, rank_worklist


def audit_rows(decisions: list[Decision], model_version: str) -> list[dict[str, Any]]:
    """Audit-store rows of decisions (reasons: the segment's plus the credit action's)."""
    return [
        {
            "customer_id": d.customer_id,
            "as_of": d.as_of,
            "segment": d.segment,
            "policy_version": d.policy_version,
            "model_version": model_version,
            "reasons": d.credit.reasons,
            "payload": d.model_dump(mode="json"),
        }
        for d in decisions
    ]


def write_frame(frame: pd.DataFrame, out: Path) -> None:
    """Write a frame as Parquet (``.parquet``) or CSV (anything else)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)


def invoice_predictions_if_any(
    tables: dict[str, Any], when: pd.Timestamp, cfg: TrainConfig, tracking_uri: str
) -> pd.DataFrame | None:
    """Invoice predictions of the ``invoice_late`` champion, or None when none is registered."""
    from payer_model.adapters.registry import RegistryError
    from payer_model.jobs.invoice import predict_invoices

    try:
        return predict_invoices(
            tables, cfg, as_of=str(when.date()), tracking_uri=tracking_uri, out=None
        )
    except RegistryError:
        return None


def collector_worklist(
    tables: dict[str, Any],
    as_of: str,
    cfg: TrainConfig,
    policies: PolicySet,
    *,
    tracking_uri: str,
    audit_db: str | Path,
    collectors: int = 1,
    out: Path | None = None,
    top: int = 20,
) -> dict[str, Any]:
    """Rate, decide for every customer, record every decision, rank for collectors.

    Args:
        tables: contract tables.
        as_of: decision date.
        cfg: training config (registered model, features).
        policies: the segment policies.
        tracking_uri: MLflow store holding the champion.
        audit_db: SQLite audit store every decision is recorded in.
        collectors: split the list round-robin across this many collectors.
        out: write the ranked list here (CSV or Parquet).
        top: rows returned in ``top``.

    Returns:
        Dates, versions, counts, per-collector totals and the ``top`` rows.
    """
    when = pd.Timestamp(as_of)
    model, version = load_champion(cfg, tracking_uri)
    scored = rated_portfolio(tables, when, model, cfg, model_version=version)
    invoice_preds = invoice_predictions_if_any(tables, when, cfg, tracking_uri)
    decisions = decide_all(tables, scored, when, policies, invoice_predictions=invoice_preds)
    AuditStore(audit_db).record_decisions(audit_rows(decisions, version))
    ranked = rank_worklist(decisions, when, collectors)
    if out is not None:
        write_frame(ranked, out)
    return {
        "as_of": str(when.date()),
        "policy_version": policies.policy_version,
        "model_version": version,
        "customers": len(ranked),
        "decisions_recorded": len(decisions),
        "audit_db": str(audit_db),
        "collectors": collector_totals(ranked),
        "top": ranked.head(top).to_dict("records"),
        "out": str(out) if out else None,
    }


def replay_policies(
    tables: dict[str, Any],
    date_from: str,
    date_to: str,
    cfg: TrainConfig,
    policies: PolicySet,
    *,
    tracking_uri: str,
    useless_days: int = 3,
) -> dict[str, Any]:
    """Replay the policies on history with champion ratings month by month.

    Returns:
        :func:`payer_model.policy.simulate.simulate_policy`'s result plus ``model_version``.
    """
    model, version = load_champion(cfg, tracking_uri)
    res = simulate_policy(
        tables,
        date_from,
        date_to,
        policies,
        lambda t, as_of: rated_portfolio(t, as_of, model, cfg, model_version=version),
        useless_days=useless_days,
    )
    res["model_version"] = version
    return res
