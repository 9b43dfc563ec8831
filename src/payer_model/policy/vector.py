"""The decision engine over a whole portfolio at once (the batch path of DESIGN §6).

:func:`decide_many` answers what :func:`payer_model.policy.decide.decide` answers, for many
customers in one pass: the as-of rule (:func:`~payer_model.policy.decide.known_invoices`,
:func:`~payer_model.features.asof.open_mask`) and the reminder history
(:func:`~payer_model.policy.decide.reminder_history`) run once on the portfolio's frames,
the invoices become plain records column by column, and each customer then goes through
the same rule pieces as the one-customer call
(:func:`~payer_model.policy.decide.decide_records`: stop reasons, due steps, band steps,
escalations, credit decision). No pandas runs per customer, and the decisions are the same
(a parity test holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from payer_model.features.asof import open_mask
from payer_model.policy.decide import (
    Decision,
    amount_column,
    decide_records,
    known_invoices,
    reminder_history,
)
from payer_model.policy.policies import PolicySet

OWNER = "customer_id"
"""The column of ``invoices`` (and ``sent_reminders``) naming the customer a row belongs to."""


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` built column by column (the same values, faster)."""
    if not len(frame):
        return []
    cols = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*values, strict=True)]


def _group(keys: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for k, key in enumerate(keys):
        out.setdefault(key, []).append(k)
    return out


def decide_many(
    customers: Sequence[Mapping[str, Any]],
    rating_rows: Sequence[Mapping[str, Any]],
    invoices: pd.DataFrame | None,
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    sent_reminders: pd.DataFrame | None = None,
) -> list[Decision]:
    """Decisions for many customers at once; the same as :func:`decide` per customer.

    Args:
        customers: one customer row per decision (``customer_id``, ``customer_type``,
            ``industry``, ``credit_limit``, ...); names and emails are never read.
        rating_rows: rating, probabilities and feature values, aligned with ``customers``.
        invoices: the invoices of all these customers that may still be open at ``as_of``
            (the columns :func:`decide` takes, plus ``customer_id``).
        as_of: decision date; events on or after it are unknown.
        policies: validated policy set.
        sent_reminders: reminders already sent (``invoice_id``, ``customer_id``,
            ``sent_date``, ``channel``, optional ``outcome``); only those before ``as_of``
            count, each for the customer of its ``customer_id``.

    Returns:
        One :class:`Decision` per customer, in the order of ``customers``.
    """
    t = pd.Timestamp(as_of).normalize()
    inv = known_invoices(invoices, t)
    records = frame_records(inv)
    is_open = open_mask(inv, t).tolist() if len(inv) else []
    by_cust = _group(inv[OWNER].astype(str).tolist()) if len(inv) else {}
    sent, promises = reminder_history(sent_reminders, t)
    n_sent: dict[str, int] = {}
    if sent_reminders is not None and len(sent_reminders):
        before = (pd.to_datetime(sent_reminders["sent_date"]) < t).to_numpy()
        owners, counts = np.unique(
            sent_reminders.loc[before, OWNER].astype(str).to_numpy(dtype=object),
            return_counts=True,
        )
        n_sent = dict(zip(owners.tolist(), counts.tolist(), strict=True))
    amt_col = amount_column(inv)
    out = []
    for customer, rating_row in zip(customers, rating_rows, strict=True):
        cid = str(customer["customer_id"])
        rows = by_cust.get(cid, [])
        out.append(
            decide_records(
                customer,
                rating_row,
                [records[k] for k in rows],
                [is_open[k] for k in rows],
                t,
                policies,
                sent,
                promises,
                n_sent.get(cid, 0),
                amt_col,
            )  # fmt: skip
        )
    return out
