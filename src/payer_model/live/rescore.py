"""Customer state from contract tables: the online features, the rating, the policy decision.

:func:`score_state` runs, for the customers of some contract tables, exactly what the API
does per request (:func:`payer_model.features.online.compute_online`, then
:func:`~payer_model.modelling.model.rate` and
:func:`~payer_model.modelling.explain.reason_codes` on the feature block) and then the policy
engine (:func:`payer_model.policy.segment.decide_all`): one state row per customer with the
features, rating, probabilities, reasons, segment, next actions and versions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from payer_model.config import TrainConfig
from payer_model.data.schema import UNRATED
from payer_model.features.online import compute_online, customers_from_tables
from payer_model.live.tables import records_from_rows
from payer_model.modelling.explain import NO_HISTORY_REASON, reason_codes
from payer_model.modelling.model import rate
from payer_model.policy.policies import PolicySet
from payer_model.policy.segment import decide_all
from payer_model.policy.vector import decide_rows

OUTPUTS: tuple[str, ...] = ("p_good", "p_average", "p_bad", "p_not_good", "score")
_KEYS = ("customer_id", "as_of")


@dataclass(frozen=True)
class Scorer:
    """What rates a customer: the model and its version, the config and the policies."""

    model: Any
    model_version: str
    cfg: TrainConfig
    policies: PolicySet


def json_safe(x: Any) -> Any:
    """JSON-ready value: numpy -> Python, NaN/inf -> None, dates -> ISO text."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, date):
        return x.isoformat()
    return x


def _no_history(cid: str) -> dict[str, Any]:
    return {"customer_id": cid, "rating": UNRATED, **dict.fromkeys(OUTPUTS), "features": {},
            "reasons": [NO_HISTORY_REASON]}  # fmt: skip


def score_state(
    tables: Mapping[str, Any] | None,
    as_of: date,
    scorer: Scorer,
    records: Sequence[Any] | None = None,
    *,
    rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """State rows of every customer of ``tables`` as of ``as_of`` (sorted by customer id).

    Args:
        tables: contract tables holding the customers to score with their whole history.
        as_of: the cutoff T (start of day; events dated T or later are unknown).
        scorer: model, config and policies.
        records: the same customers as online records when the caller has them
            (:func:`payer_model.live.tables.records_from_rows`); built from ``tables`` else.
        rows: the same customers as ledger rows per table: then ``tables`` may be None and
            the policy runs without pandas (:func:`payer_model.policy.vector.decide_rows`,
            the path of a few customers; the portfolio path decides the same).

    Returns:
        Dicts with ``customer_id``, ``as_of``, ``rating``, the probabilities and score,
        ``reasons`` (list of dicts), ``features`` (dict), ``segment``, ``decision`` (the
        :class:`~payer_model.policy.decide.Decision` as JSON: next actions, credit action,
        priority), ``model_version`` and ``policy_version``.
    """
    if records is None and rows is not None:
        records = records_from_rows(rows)
    if records is None:
        assert tables is not None, "score_state needs tables or rows"
        records = customers_from_tables(
            tables["invoices"], tables.get("customers"), tables.get("payments"),
            tables.get("reminders"),
        )  # fmt: skip
    fc = scorer.cfg.features
    out_rows: list[dict[str, Any]] = []
    if records:
        online = compute_online(
            records, as_of, window_days=fc.window_days, trend_days=fc.trend_days,
            labels=scorer.cfg.labels,
        )  # fmt: skip
        block = online.block()
        by_id: dict[str, dict[str, Any]] = {}
        if len(online):
            rated = rate(scorer.model, block, min_paid_invoices=fc.min_paid_invoices)
            reasons = reason_codes(
                scorer.model, block, rated["rating"], min_paid_invoices=fc.min_paid_invoices
            )
            feats = block.records(skip=_KEYS)
            for j, cid in enumerate(online.customer_ids):
                out = {k: json_safe(rated[k][j]) for k in ("rating", *OUTPUTS)}
                by_id[cid] = {"customer_id": cid, **out, "features": feats[j],
                              "reasons": json_safe(reasons[j])}  # fmt: skip
        out_rows = [
            by_id.get(str(r.customer_id)) or _no_history(str(r.customer_id)) for r in records
        ]
    rating_rows = [{**r["features"], **r} for r in out_rows]
    if rows is not None:
        decisions = decide_rows(rows, rating_rows, as_of, scorer.policies)
    else:
        decisions = decide_all(tables, rating_rows, as_of, scorer.policies)
    pv = scorer.policies.policy_version
    for row, d in zip(out_rows, decisions, strict=True):
        row["as_of"] = as_of
        row["segment"] = d.segment
        row["decision"] = d.model_dump(mode="json")
        row["model_version"] = scorer.model_version
        row["policy_version"] = pv
    return sorted(out_rows, key=lambda r: r["customer_id"])
