"""The decision engine (DESIGN §6): what to do about one customer as of a date.

:func:`decide` answers for one customer, its invoices and its rating as of T: the segment,
the policy, the next actions with their dates (skipping reminders already sent, stopping on
payment, dispute or promise to pay), a credit action with reasons, and a worklist priority
``P(bad) x overdue balance``. Which invoices are open at T is the one as-of rule of
:mod:`payer_model.features.asof` (an invoice written off before T gets no reminder). Credit
holds and limit reductions for natural persons are never automatic: they come back with
``requires_human_review``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from payer_model.data.schema import NATURAL_PERSON_TYPES
from payer_model.features.asof import known_at, open_mask
from payer_model.policy.policies import (
    HUMAN_REVIEW_ACTIONS,
    Policy,
    PolicySet,
    Step,
    policy_summary,
)
from payer_model.policy.rules import band_matches, rule_text


class Action(BaseModel):
    """One planned action."""

    date: date
    kind: Literal["reminder", "escalation"]
    channel: str | None = None
    to: str | None = None
    tone: str | None = None
    invoice_ids: list[str]
    amount: float = 0.0
    catch_up: bool = False
    next_step: str | None = None
    history: dict[str, Any] | None = None
    learned: bool = Field(False, description="chosen by the uplift model (an auto step)")


class CreditDecision(BaseModel):
    """Credit action with its reasons."""

    action: str
    reduce_limit_pct: float | None = None
    current_limit: float | None = None
    new_limit: float | None = None
    automatic: bool = True
    requires_human_review: bool = False
    reasons: list[str]


class Decision(BaseModel):
    """What to do about one customer as of a date."""

    customer_id: str
    as_of: date
    segment: str
    rule: str
    rating: str
    p_bad: float | None
    policy: dict[str, Any]
    tone: str
    next_actions: list[Action]
    stopped: dict[str, str] = Field(default_factory=dict, description="invoice_id -> reason")
    open_amt: float
    overdue_amt: float
    priority: float
    expected_overdue_amt: float | None = Field(
        None, description="sum of open amount x P(late) when invoice predictions exist"
    )
    credit: CreditDecision
    requires_human_review: bool
    reasons: list[str]
    policy_version: str
    learned: bool = Field(False, description="an auto step was decided by the uplift model")


def value_of(row: Any, key: str, default: Any = None) -> Any:
    """``row[key]``, or ``default`` when the row or the value is missing (None, NaN, NaT)."""
    if row is None:
        return default
    try:
        v = row.get(key, default)
    except AttributeError:
        return default
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return default
    try:
        if pd.isna(v):
            return default
    except (TypeError, ValueError):
        pass
    return v


def _ts(v: Any) -> pd.Timestamp | None:
    if v is None:
        return None
    t = pd.Timestamp(v)
    return None if pd.isna(t) else t.normalize()


def stop_reason(
    inv: Mapping[str, Any], as_of: pd.Timestamp, policy: Policy, promises: dict[str, pd.Timestamp]
) -> str | None:
    """Why an invoice's sequence stops at ``as_of`` (payment, dispute, promise), or None."""
    paid = _ts(value_of(inv, "paid_date"))
    if "payment_confirmed" in policy.stop_on and known_at(paid, as_of):
        return "payment_confirmed"
    disputed = bool(value_of(inv, "disputed", False))
    d_date = _ts(value_of(inv, "dispute_date"))
    if "dispute_open" in policy.stop_on and disputed and (d_date is None or d_date < as_of):
        return "dispute_open"
    promised = promises.get(str(inv["invoice_id"]))
    if (
        "promise_to_pay" in policy.stop_on
        and promised is not None
        and promised <= as_of < promised + pd.Timedelta(days=policy.promise_days)
    ):
        return "promise_to_pay"
    return None


def known_invoices(invoices: pd.DataFrame | None, t: pd.Timestamp) -> pd.DataFrame:
    """Invoices a decision at ``t`` looks at: issued before ``t``, not written off before it.

    Credit notes are dropped. Invoices paid before ``t`` stay: they stop their sequence.
    """
    inv = invoices if invoices is not None else pd.DataFrame()
    if not len(inv):
        return inv
    if "document_type" in inv.columns:
        inv = inv[inv["document_type"].fillna("invoice") != "credit_note"]
    if "invoice_date" not in inv.columns:  # rows without a date are known to exist
        inv = inv.assign(invoice_date=pd.Timestamp.min)
    # the as-of rule without the payment: "open at t, had it not been paid"
    return inv[open_mask(inv.drop(columns=["paid_date"], errors="ignore"), t)]


def reminder_history(
    sent_reminders: pd.DataFrame | None, t: pd.Timestamp
) -> tuple[dict[str, list[tuple[pd.Timestamp, str]]], dict[str, pd.Timestamp]]:
    """Reminders sent before ``t`` per invoice (date, channel), and the latest promise dates."""
    if sent_reminders is None or not len(sent_reminders):
        return {}, {}
    rem = sent_reminders[pd.to_datetime(sent_reminders["sent_date"]) < t]
    outcome = rem["outcome"] if "outcome" in rem.columns else pd.Series(None, index=rem.index)
    return history_of(
        zip(
            rem["invoice_id"].astype(str),
            pd.to_datetime(rem["sent_date"]),
            rem["channel"].astype(str),
            outcome,
            strict=True,
        )
    )


def history_of(
    sent: Iterable[tuple[str, pd.Timestamp, str, Any]],
) -> tuple[dict[str, list[tuple[pd.Timestamp, str]]], dict[str, pd.Timestamp]]:
    """:func:`reminder_history` of (invoice id, sent date, channel, outcome) already before T."""
    out: dict[str, list[tuple[pd.Timestamp, str]]] = {}
    promises: dict[str, pd.Timestamp] = {}
    for iid, sd, ch, oc in sent:
        out.setdefault(iid, []).append((sd.normalize(), ch))
        if oc == "promise_to_pay" and (iid not in promises or sd > promises[iid]):
            promises[iid] = sd.normalize()
    return out, promises


@dataclass
class _Plan:
    """What the invoice loop of :func:`decide` collects."""

    currency: str = "EUR"
    stopped: dict[str, str] = field(default_factory=dict)
    reminders: dict[tuple[pd.Timestamp, str, bool], list[tuple[str, float]]] = field(
        default_factory=dict
    )
    escalations: dict[int, tuple[pd.Timestamp, list[str]]] = field(default_factory=dict)
    open_amt: float = 0.0
    overdue_amt: float = 0.0
    oldest_overdue: int = 0
    expected_overdue: float | None = None  # sum of amount x P(late) of predicted invoices


def _pending_steps(
    pol: Policy, due: pd.Timestamp, done: list[tuple[pd.Timestamp, str]], t: pd.Timestamp
) -> list[tuple[pd.Timestamp, Step, bool]]:
    """Steps still to send (date, step, catch-up); missed ones collapse into one today."""
    done = list(done)
    pending: list[tuple[pd.Timestamp, Step]] = []
    for step in pol.sequence:
        if step.is_auto:  # learned steps: policy.learned decides them
            continue
        hit = next((k for k, (_, ch) in enumerate(done) if ch == step.channel), None)
        if hit is not None:
            done.pop(hit)  # this step already went out
            continue
        pending.append((due + pd.Timedelta(days=step.offset_days), step))
    past = [p for p in pending if p[0] < t]
    planned: list[tuple[pd.Timestamp, Step, bool]] = []
    if past:  # missed steps collapse into one catch-up contact today
        planned.append((t, past[-1][1], True))
    planned += [(w, s, False) for w, s in pending if w >= t]
    return planned


def _plan_invoice(
    plan: _Plan,
    rec: Mapping[str, Any],
    is_open: bool,
    t: pd.Timestamp,
    pol: Policy,
    sent: dict[str, list[tuple[pd.Timestamp, str]]],
    promises: dict[str, pd.Timestamp],
) -> None:
    iid = str(rec["invoice_id"])
    plan.currency = str(value_of(rec, "currency", plan.currency))
    reason = stop_reason(rec, t, pol, promises)
    amount = float(value_of(rec, "open_amount", rec["amount"]))  # net of partial payments
    if amount <= 0 and reason is None and "payment_confirmed" in pol.stop_on:
        reason = "payment_confirmed"
    due = _ts(rec["due_date"])
    if is_open:
        plan.open_amt += amount
        p_late = value_of(rec, "p_late")
        if p_late is not None:
            plan.expected_overdue = (plan.expected_overdue or 0.0) + amount * float(p_late)
        if due < t:
            plan.overdue_amt += amount
            plan.oldest_overdue = max(plan.oldest_overdue, (t - due).days)
    if reason:
        plan.stopped[iid] = reason
        return
    if not is_open:  # paid, and the policy does not list it: still done
        return
    done = sent.get(iid, [])
    budget = pol.max_reminders - len(done)
    for when, step, catch_up in _pending_steps(pol, due, done, t)[: max(budget, 0)]:
        plan.reminders.setdefault((when, step.channel, catch_up), []).append((iid, amount))
    band = value_of(rec, "band")
    for extra in pol.band_steps:  # e.g. a pre-due reminder for High-band invoices
        when = due + pd.Timedelta(days=extra.offset_days)
        if when >= t and band_matches(extra.bands, band):
            plan.reminders.setdefault((when, extra.channel, False), []).append((iid, amount))
    for k, esc in enumerate(pol.escalation):
        when = max(due + pd.Timedelta(days=esc.offset_days), t)
        cur = plan.escalations.get(k)
        if cur is None or when < cur[0]:
            plan.escalations[k] = (when, [iid])
        elif when == cur[0]:
            cur[1].append(iid)


def _actions(
    plan: _Plan,
    pol: Policy,
    tone: str,
    amounts: Mapping[str, float],
    t: pd.Timestamp,
    history: dict[str, Any],
) -> list[Action]:
    actions = [
        Action(
            date=w.date(),
            kind="reminder",
            channel=ch,
            tone=tone,
            catch_up=cu,
            invoice_ids=[i for i, _ in items],
            amount=round(sum(a for _, a in items), 2),
        )
        for (w, ch, cu), items in plan.reminders.items()
    ]
    due_now = [k for k, (w, _) in plan.escalations.items() if w == t]
    for k, (w, ids) in plan.escalations.items():
        if w == t and k != max(due_now):
            continue  # several steps overdue at once: only the furthest one is due today
        esc = pol.escalation[k]
        actions.append(
            Action(
                date=w.date(),
                kind="escalation",
                to=esc.to,
                invoice_ids=ids,
                amount=round(sum(amounts.get(i, 0.0) for i in ids), 2),
                next_step=esc.next_step,
                history=history if esc.with_history else None,
            )
        )
    actions.sort(key=lambda a: (a.date, a.kind != "reminder", a.channel or a.to or ""))
    return actions


def decide(
    customer: Mapping[str, Any],
    open_invoices: pd.DataFrame,
    rating_row: Mapping[str, Any],
    as_of: date | str | pd.Timestamp,
    policies: PolicySet,
    sent_reminders: pd.DataFrame | None = None,
) -> Decision:
    """Decide segment, next actions, credit action and priority for one customer.

    Args:
        customer: customer row (``customer_id``, ``customer_type``, ``industry``,
            ``credit_limit``, ...); names and emails are never read.
        open_invoices: the customer's invoices that may still be open at ``as_of``
            (``invoice_id``, ``due_date``, ``amount``, optional ``paid_date``, ``disputed``,
            ``dispute_date``, ``written_off_date``, ``document_type``, ``currency``,
            ``open_amount`` net of partial payments); an invoice paid before ``as_of`` stops
            its sequence, one written off before ``as_of`` is ignored.
        rating_row: rating, probabilities and feature values of the customer at ``as_of``.
        as_of: decision date; events on or after it are unknown.
        policies: validated policy set.
        sent_reminders: reminders already sent (``invoice_id``, ``sent_date``, ``channel``,
            optional ``outcome``); only those before ``as_of`` count.

    Returns:
        The :class:`Decision`.
    """
    t = pd.Timestamp(as_of).normalize()
    inv = known_invoices(open_invoices, t)
    sent, promises = reminder_history(sent_reminders, t)
    records = inv.to_dict("records") if len(inv) else []
    is_open = open_mask(inv, t).tolist() if len(inv) else []
    n_sent = sum(len(v) for v in sent.values())
    return decide_records(
        customer, rating_row, records, is_open, t, policies, sent, promises, n_sent,
        amount_column(inv),
    )  # fmt: skip


def amount_column(inv: pd.DataFrame) -> str:
    """The column escalations sum: ``open_amount`` (net of partial payments) when present."""
    return "open_amount" if "open_amount" in inv.columns else "amount"


def decide_records(
    customer: Mapping[str, Any],
    rating_row: Mapping[str, Any],
    records: list[dict[str, Any]],
    is_open: list[bool],
    t: pd.Timestamp,
    policies: PolicySet,
    sent: Mapping[str, list[tuple[pd.Timestamp, str]]],
    promises: Mapping[str, pd.Timestamp],
    n_sent: int,
    amt_col: str = "amount",
) -> Decision:
    """:func:`decide` on prepared inputs: the one implementation behind both paths.

    ``records`` are the customer's invoices known at ``t`` (:func:`known_invoices`, as
    dicts), ``is_open`` which of them are open at ``t``, ``sent``/``promises`` the
    :func:`reminder_history` and ``n_sent`` the customer's reminders sent before ``t``.
    :func:`decide` prepares them for one customer,
    :func:`~payer_model.policy.vector.decide_many` for a whole portfolio at once and
    :func:`~payer_model.policy.vector.decide_rows` from ledger rows.
    """
    row = {**dict(customer), **dict(rating_row)}
    seg, rule = policies.match(row)
    pol = seg.policy
    tone = pol.tone_for(value_of(row, "industry"))
    rating = str(value_of(row, "rating", "unrated"))
    p_bad = value_of(row, "p_bad")
    p_bad = float(p_bad) if p_bad is not None else None

    plan = _Plan()
    for rec, open_now in zip(records, is_open, strict=True):
        _plan_invoice(plan, rec, open_now, t, pol, sent, promises)  # type: ignore[arg-type]

    history = {
        "wmean_days_late": value_of(row, "wmean_days_late"),
        "oldest_overdue_days": plan.oldest_overdue,
        "overdue_amt": round(plan.overdue_amt, 2),
        "open_amt": round(plan.open_amt, 2),
        "reminders_sent": n_sent,
        "disputes_open": sum(1 for r in plan.stopped.values() if r == "dispute_open"),
    }
    amounts = {str(r["invoice_id"]): float(r[amt_col]) for r in records if plan.escalations}
    actions = _actions(plan, pol, tone, amounts, t, history)
    p_for_priority = p_bad if p_bad is not None else policies.unrated_p_bad
    priority = p_for_priority * plan.overdue_amt
    reasons = [f"segment '{seg.name}' by {rule}", f"rating {rating}"]
    if plan.expected_overdue is not None:  # invoice predictions rank by expected overdue
        priority = plan.expected_overdue
        reasons.append(f"expected overdue {plan.expected_overdue:,.2f} {plan.currency}")
    if p_bad is not None:
        reasons.append(f"P(bad) {p_bad:.2f}")
    if plan.overdue_amt > 0:
        reasons.append(
            f"overdue {plan.overdue_amt:,.2f} {plan.currency}, oldest {plan.oldest_overdue} days"
        )
    credit = credit_decision(customer, row, pol, reasons)
    return Decision(
        customer_id=str(customer["customer_id"]),
        as_of=t.date(),
        segment=seg.name,
        rule=rule,
        rating=rating,
        p_bad=p_bad,
        policy=policy_summary(seg),
        tone=tone,
        next_actions=actions,
        stopped=plan.stopped,
        open_amt=round(plan.open_amt, 2),
        overdue_amt=round(plan.overdue_amt, 2),
        priority=round(priority, 2),
        expected_overdue_amt=None
        if plan.expected_overdue is None
        else round(plan.expected_overdue, 2),
        credit=credit,
        requires_human_review=credit.requires_human_review,
        reasons=reasons,
        policy_version=policies.policy_version,
    )


def credit_decision(
    customer: Mapping[str, Any], row: Mapping[str, Any], pol: Policy, reasons: list[str]
) -> CreditDecision:
    """The credit action of a policy for one customer, with the new limit and its reasons."""
    cp = pol.credit
    action = cp.action
    why = [*reasons, cp.reason]
    if cp.hold_when is not None and all(c.matches(row.get(f)) for f, c in cp.hold_when.items()):
        action = "hold_new_orders"
        why.append(f"hold because {rule_text(cp.hold_when)}")
    limit = value_of(customer, "credit_limit")
    limit = float(limit) if limit is not None else None
    new_limit = None
    if action == "reduce_limit" and limit is not None:
        new_limit = round(limit * (1 - (cp.reduce_limit_pct or 0) / 100), 2)
    elif action == "limit_cap" and cp.limit_cap is not None:
        new_limit = cp.limit_cap if limit is None else min(limit, cp.limit_cap)
    elif action == "hold_new_orders":
        new_limit = limit
    if action == "none" and cp.may_raise_limit_on_review:
        why.append("limit may be raised at the next review")
    natural = str(value_of(customer, "customer_type", "company")) in NATURAL_PERSON_TYPES
    review = action in HUMAN_REVIEW_ACTIONS and natural
    if review:
        why.append(f"{value_of(customer, 'customer_type')}: a natural person, so a person decides")
    return CreditDecision(
        action=action,
        reduce_limit_pct=cp.reduce_limit_pct if action == "reduce_limit" else None,
        current_limit=limit,
        new_limit=new_limit,
        automatic=not review,
        requires_human_review=review,
        reasons=why,
    )
