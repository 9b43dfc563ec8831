"""Rating migration between two as-of dates (pure pandas).

The matrix counts customers (and sums their open amount at the current date) by rating at
the reference date (rows) and at the current date (columns), ``unrated`` included. Each
customer who moved gets a short reason: the features that changed most (in portfolio
standard deviations) and the reason codes that appeared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from payer_model.data.schema import RATINGS, UNRATED

ORDER: tuple[str, ...] = (*RATINGS, UNRATED)
RANK: dict[str, int] = {r: i for i, r in enumerate(RATINGS)}


def _frame(ratings: pd.DataFrame) -> pd.DataFrame:
    out = ratings.copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out["rating"] = out["rating"].fillna(UNRATED).astype(str)
    if "open_amt" not in out.columns:
        out["open_amt"] = 0.0
    return out.set_index("customer_id")


def migration_matrix(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Counts and open amounts by rating at the reference (rows) and current (columns) date.

    Args:
        reference: ``customer_id``, ``rating`` (and optionally ``open_amt``) at the first date.
        current: the same at the second date; amounts are taken from here.

    Returns:
        ``{"counts": DataFrame, "amounts": DataFrame}`` indexed and columned by
        good/average/bad/unrated; customers missing at one date count as unrated there.
    """
    ref, cur = _frame(reference), _frame(current)
    ids = ref.index.union(cur.index)
    both = pd.DataFrame(
        {
            "from": ref["rating"].reindex(ids).fillna(UNRATED),
            "to": cur["rating"].reindex(ids).fillna(UNRATED),
            "amount": cur["open_amt"].reindex(ids).fillna(0.0).astype(float),
        }
    )
    counts = pd.crosstab(both["from"], both["to"]).reindex(
        index=ORDER, columns=ORDER, fill_value=0
    )
    amounts = both.pivot_table(
        index="from", columns="to", values="amount", aggfunc="sum", fill_value=0.0
    ).reindex(index=ORDER, columns=ORDER, fill_value=0.0)
    counts.index.name = amounts.index.name = "from"
    counts.columns.name = amounts.columns.name = "to"
    return {"counts": counts.astype(int), "amounts": amounts.astype(float)}


def _codes(value: object) -> set[str]:
    if not isinstance(value, str) or not value:
        return set()
    return {c for c in value.split(",") if c}


def movers(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str] | tuple[str, ...],
    *,
    top: int = 2,
) -> pd.DataFrame:
    """Customers whose rating changed, with the direction and a short reason.

    Args:
        reference: ratings merged with features at the first date.
        current: the same at the second date.
        features: numeric feature columns to explain the move with.
        top: number of feature changes quoted in the reason.

    Returns:
        ``customer_id``, ``from``, ``to``, ``steps`` (positive = worse, between rated
        classes; 0 for moves to or from unrated), ``open_amt`` and ``reason``.
    """
    ref, cur = _frame(reference), _frame(current)
    ids = ref.index.union(cur.index)
    frm = ref["rating"].reindex(ids).fillna(UNRATED)
    to = cur["rating"].reindex(ids).fillna(UNRATED)
    moved = ids[(frm != to).to_numpy()]
    cols = [f for f in features if f in ref.columns and f in cur.columns]
    a = ref.reindex(moved)[cols].astype(float)
    b = cur.reindex(moved)[cols].astype(float)
    scale = pd.concat([ref[cols], cur[cols]]).astype(float).std().replace(0, np.nan)
    z = ((b - a) / scale).abs()
    rows = []
    for cid in moved:
        f, t = frm[cid], to[cid]
        steps = RANK[t] - RANK[f] if f in RANK and t in RANK else 0
        parts = []
        for col in z.loc[cid].dropna().sort_values(ascending=False).index[:top]:
            if z.at[cid, col] > 0:
                parts.append(f"{col} {a.at[cid, col]:,.1f}->{b.at[cid, col]:,.1f}")
        new_codes = (
            sorted(_codes(cur["reason_codes"].get(cid)) - _codes(ref["reason_codes"].get(cid)))
            if "reason_codes" in cur.columns
            else []
        )
        if new_codes:
            parts.append("new reasons " + ",".join(new_codes))
        rows.append(
            {
                "customer_id": cid,
                "from": f,
                "to": t,
                "steps": int(steps),
                "open_amt": float(cur["open_amt"].get(cid, 0.0) or 0.0),
                "reason": f"{f}->{t}: " + ("; ".join(parts) if parts else "no feature change"),
            }
        )
    return pd.DataFrame(rows, columns=["customer_id", "from", "to", "steps", "open_amt", "reason"])
