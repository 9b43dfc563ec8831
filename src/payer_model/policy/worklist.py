"""The collector worklist: the one ranking of decisions by their priority.

The priority (:func:`payer_model.policy.decide.decide`) is the expected overdue amount (open
amount x P(late), summed) where invoice predictions exist, else ``P(bad) x overdue balance``.

A customer is on the list when it has a priority (something overdue) or an action due on or
before the decision date. Ties are broken by overdue amount, then customer id, so the list
is stable; rows are dealt round-robin to collectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

from payer_model.policy.decide import Decision

WORKLIST_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "segment",
    "rating",
    "p_bad",
    "overdue_amt",
    "priority",
    "next_action_date",
    "next_action",
    "credit_action",
    "requires_human_review",
)
"""Columns of a ranked worklist, after ``rank`` and ``collector``."""


def needs_work(d: Decision, as_of: date) -> bool:
    """Whether a decision belongs on the worklist of ``as_of``."""
    return d.priority > 0 or any(a.date <= as_of for a in d.next_actions)


def worklist_row(d: Decision) -> dict[str, Any]:
    """One worklist row of a decision (its first next action, its credit action)."""
    nxt = d.next_actions[0] if d.next_actions else None
    return {
        "customer_id": d.customer_id,
        "segment": d.segment,
        "rating": d.rating,
        "p_bad": d.p_bad,
        "overdue_amt": d.overdue_amt,
        "priority": d.priority,
        "next_action_date": str(nxt.date) if nxt else None,
        "next_action": (nxt.channel or f"escalate to {nxt.to}") if nxt else None,
        "credit_action": d.credit.action,
        "requires_human_review": d.requires_human_review,
    }


def rank_worklist(decisions: Iterable[Decision], as_of: Any, collectors: int = 1) -> pd.DataFrame:
    """Rank decisions for collectors: highest ``P(bad) x overdue`` first.

    Args:
        decisions: decisions of one date (:func:`payer_model.policy.segment.decide_all`).
        as_of: the decision date; customers with nothing overdue and no action due by then
            are left out.
        collectors: split the list round-robin across this many collectors (>= 1).

    Returns:
        A frame with ``rank``, ``collector`` and :data:`WORKLIST_COLUMNS`, best first.
    """
    if collectors < 1:
        raise ValueError("collectors must be at least 1")
    when = pd.Timestamp(as_of).date()
    rows = [worklist_row(d) for d in decisions if needs_work(d, when)]
    ranked = pd.DataFrame(rows, columns=list(WORKLIST_COLUMNS))
    ranked = ranked.sort_values(
        ["priority", "overdue_amt", "customer_id"], ascending=[False, False, True], kind="stable"
    )
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    ranked.insert(1, "collector", [(i % collectors) + 1 for i in range(len(ranked))])
    return ranked.reset_index(drop=True)


def collector_totals(ranked: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Customers and summed priority per collector of a ranked worklist."""
    per = ranked.groupby("collector").agg(
        customers=("customer_id", "size"), priority=("priority", "sum")
    )
    return {
        str(k): {"customers": int(v["customers"]), "priority": round(float(v["priority"]), 2)}
        for k, v in per.iterrows()
    }
