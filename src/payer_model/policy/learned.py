"""Learned chasing: ``channel: auto`` / ``timing: auto`` steps decided by uplift per cost.

For an open invoice the uplift model (:mod:`payer_model.modelling.uplift`) gives, per action
(a channel at a timing relative to the due date), the expected change in P(paid within the
policy's horizon). An action is *worth its cost* when ``uplift x open amount x value_pct/100``
exceeds the channel's cost (``chase`` in the policy file); among those the best value per
unit of cost wins, and when none is worth it the invoice gets no reminder. A fixed channel
or offset in the step is a human override: only the ``auto`` part is learned. One learned
reminder per invoice and decision (the decision the model was trained on); without an
uplift estimate for an invoice the step falls back to ``chase.fallback_channel`` at the
step's offset, and the action is recorded as not learned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.chase import NO_REMINDER, TIMINGS, action_name, parse_action
from payer_model.features.asof import open_mask
from payer_model.policy.decide import Action, Decision, decide, known_invoices, value_of
from payer_model.policy.policies import AUTO, Chase, Policy, PolicySet, Step


def candidate_actions(
    columns: Sequence[str], chase: Chase, steps: Sequence[Step] | None = None
) -> list[str]:
    """Actions among ``columns`` that the (auto) ``steps`` allow and that have a cost."""
    out = []
    for col in columns:
        parsed = parse_action(col) if col != NO_REMINDER else None
        if parsed is None or parsed[0] not in chase.costs:
            continue
        ch, timing = parsed
        if steps is None or any(
            (s.channel in (AUTO, ch)) and (s.timing == AUTO or s.offset_days == timing)
            for s in steps
        ):
            out.append(col)
    return out


def choose_actions(
    uplift: pd.DataFrame,
    amount: Sequence[float] | np.ndarray | pd.Series,
    chase: Chase,
    candidates: Sequence[str] | None = None,
    allowed: pd.DataFrame | None = None,
    p_useless: pd.DataFrame | None = None,
) -> pd.Series:
    """The learned action per row: best value per cost among those worth it, else ``none``.

    Args:
        uplift: uplift per action (columns like ``email+1``), one row per invoice.
        amount: open amount per row.
        chase: costs and value of the policy file.
        candidates: actions to choose from (default: every column with a cost).
        allowed: optional boolean frame (same shape as the candidates) masking actions that
            cannot be taken for a row (e.g. a timing already past).
        p_useless: optional P(paid within 3 days of the action's send day anyway) per action;
            adds ``chase.useless_cost`` x that probability to the action's cost.

    Returns:
        Action names (``none`` when nothing is worth its cost), indexed like ``uplift``.
    """
    cols = list(candidates) if candidates is not None else candidate_actions(uplift.columns, chase)
    if not cols:
        return pd.Series(NO_REMINDER, index=uplift.index, dtype=object)
    amt = np.asarray(amount, dtype=float)
    cost = np.array([chase.costs[parse_action(c)[0]] for c in cols])[None, :]  # type: ignore[index]
    if p_useless is not None and chase.useless_cost > 0:
        cost = cost + chase.useless_cost * p_useless[cols].to_numpy(dtype=float)
    value = uplift[cols].to_numpy(dtype=float) * amt[:, None] * chase.value_pct / 100.0
    ratio = np.where(value > cost, value / cost, -np.inf)
    if allowed is not None:
        ratio = np.where(allowed[cols].to_numpy(dtype=bool), ratio, -np.inf)
    best = ratio.argmax(axis=1)
    worth = np.isfinite(ratio[np.arange(len(ratio)), best])
    names = np.array(cols, dtype=object)[best]
    return pd.Series(np.where(worth, names, NO_REMINDER), index=uplift.index, dtype=object)


def playbook_action(policy: Policy, fallback_channel: str = "email") -> str:
    """The fixed playbook's first contact in the experiment's action space.

    The first step on or after the decision date (3 days before due) with its offset moved
    to the nearest timing bucket; an auto step counts as the fallback channel at its offset.
    """
    return sequence_action(policy.sequence[: max(policy.max_reminders, 0)], fallback_channel)


def sequence_action(steps: Sequence[Step], fallback_channel: str = "email") -> str:
    """First contact of a step sequence as an experiment action (see :func:`playbook_action`)."""
    for step in steps:
        if step.offset_days < TIMINGS[0]:
            continue
        timing = min(TIMINGS, key=lambda t: (abs(t - step.offset_days), t))
        channel = fallback_channel if step.channel == AUTO else step.channel
        return action_name(channel, timing)
    return NO_REMINDER


def _learned_step(
    rec: Mapping[str, Any],
    t: pd.Timestamp,
    pol: Policy,
    chase: Chase,
    row: pd.Series | None,
    tone: str,
    useless_row: pd.Series | None = None,
) -> tuple[Action | None, str | None]:
    """The learned reminder of one invoice, or why there is none."""
    iid = str(rec["invoice_id"])
    due = pd.Timestamp(rec["due_date"]).normalize()
    amount = float(value_of(rec, "open_amount", rec["amount"]))
    steps = [s for s in pol.sequence if s.is_auto]
    if row is None:  # no uplift estimate: the step's fixed fallback, not learned
        step = steps[0]
        channel = chase.fallback_channel if step.channel == AUTO else step.channel
        when = max(due + pd.Timedelta(days=step.offset_days), t)
        action = Action(
            date=when.date(),
            kind="reminder",
            channel=channel,
            tone=tone,
            invoice_ids=[iid],
            amount=round(amount, 2),
        )
        return action, None
    cols = candidate_actions(list(row.index), chase, steps)
    allowed = pd.DataFrame(
        [[due + pd.Timedelta(days=parse_action(c)[1]) >= t for c in cols]],  # type: ignore[index]
        columns=cols,
    )
    p_useless = useless_row.to_frame().T if useless_row is not None else None
    choice = choose_actions(row.to_frame().T, [amount], chase, cols, allowed, p_useless).iloc[0]
    if choice == NO_REMINDER:
        return None, f"no reminder for {iid}: no action worth its cost (learned)"
    channel, timing = parse_action(choice)  # type: ignore[misc]
    action = Action(
        date=(due + pd.Timedelta(days=timing)).date(),
        kind="reminder",
        channel=channel,
        tone=tone,
        invoice_ids=[iid],
        amount=round(amount, 2),
        learned=True,
    )
    return action, f"{iid}: {choice} by uplift {float(row[choice]):.3f} per cost"


def decide_learned(
    customer: Mapping[str, Any],
    open_invoices: pd.DataFrame,
    rating_row: Mapping[str, Any],
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    sent_reminders: pd.DataFrame | None = None,
    uplift: pd.DataFrame | None = None,
    p_useless: pd.DataFrame | None = None,
) -> Decision:
    """:func:`payer_model.policy.decide.decide`, with the segment's auto steps learned.

    Args:
        customer: see ``decide``.
        open_invoices: see ``decide``.
        rating_row: see ``decide``.
        as_of: decision date.
        policies: validated policy set (its ``chase`` section prices the channels).
        sent_reminders: see ``decide``.
        uplift: uplift per action (columns like ``email+1``) indexed by ``invoice_id``, at
            the policy's horizon, as of ``as_of``; None: every auto step falls back.
        p_useless: optional P(paid within 3 days of the action anyway), same layout, priced
            at ``chase.useless_cost``.

    Returns:
        The decision; learned reminders have ``learned=True`` and so has the decision when
        any auto step was decided by the model.
    """
    d = decide(customer, open_invoices, rating_row, as_of, policies, sent_reminders)
    pol = policies.segment(d.segment).policy
    if policies.chase is None or not any(s.is_auto for s in pol.sequence):
        return d
    t = pd.Timestamp(as_of).normalize()
    inv = known_invoices(open_invoices, t)
    if not len(inv):
        return d
    inv = inv[open_mask(inv, t).to_numpy()]
    sent = set()
    if sent_reminders is not None and len(sent_reminders):
        before = pd.to_datetime(sent_reminders["sent_date"]) < t
        sent = set(sent_reminders.loc[before, "invoice_id"].astype(str))
    actions, reasons, learned = list(d.next_actions), list(d.reasons), False
    for rec in inv.to_dict("records"):
        iid = str(rec["invoice_id"])
        if iid in d.stopped or (iid in sent and pol.max_reminders <= 1):
            continue
        row = uplift.loc[iid] if uplift is not None and iid in uplift.index else None
        useless_row = (
            p_useless.loc[iid] if p_useless is not None and iid in p_useless.index else None
        )
        action, why = _learned_step(rec, t, pol, policies.chase, row, d.tone, useless_row)
        if row is not None:
            learned = True
        if action is not None:
            actions.append(action)
        if why:
            reasons.append(why)
    actions.sort(key=lambda a: (a.date, a.kind != "reminder", a.channel or a.to or ""))
    return d.model_copy(update={"next_actions": actions, "reasons": reasons, "learned": learned})
