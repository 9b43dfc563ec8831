"""Risk-change alerts and outbox messages, from a customer's state before and after.

* :func:`risk_alert`: one alert when the rating or the segment changes, or P(bad) rises by
  more than a step; its key is the change itself (customer, as-of, before -> after), so the
  same change is stored once however often it is computed.
* :func:`due_messages`: the reminders of a state's next actions that fall due on or before
  a date, rendered with the policy templates (tone x channel). A message id is a hash of
  what the message is (customer, invoices, channel, date, policy version): planning twice
  gives the same ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from payer_model.policy.decide import Decision
from payer_model.policy.templates import render_message

ALERT_FIELDS: tuple[str, ...] = ("rating", "segment", "p_bad", "score")


def _digest(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def risk_alert(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    p_bad_step: float,
    event_ids: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The alert for one customer's change of state, or None when nothing moved enough.

    A first state (``before`` None) is no change. ``kinds`` lists what moved: ``rating``,
    ``segment``, ``p_bad`` (a rise of more than ``p_bad_step``).
    """
    if before is None:
        return None
    kinds = [k for k in ("rating", "segment") if before.get(k) != after.get(k)]
    pb, pa = before.get("p_bad"), after.get("p_bad")
    if pb is not None and pa is not None and pa - pb > p_bad_step:
        kinds.append("p_bad")
    if not kinds:
        return None
    b = {k: before.get(k) for k in ALERT_FIELDS}
    a = {k: after.get(k) for k in ALERT_FIELDS}
    as_of = after["as_of"]
    key = _digest(after["customer_id"], as_of, ",".join(kinds), b["rating"], b["segment"],
                  a["rating"], a["segment"], round(pa or 0.0, 3))  # fmt: skip
    return {
        "alert_key": key,
        "customer_id": after["customer_id"],
        "as_of": as_of,
        "kinds": ",".join(kinds),
        "before": b,
        "after": a,
        "reasons": [
            r.get("text", r.get("code")) if isinstance(r, dict) else str(r)
            for r in after.get("reasons") or []
        ],  # fmt: skip
        "event_ids": sorted(set(event_ids)),
    }


def message_id(
    customer_id: str, invoice_ids: Sequence[str], channel: str, day: Any, pv: str
) -> str:
    """The id of a message: the same message planned twice has the same id."""
    return _digest(customer_id, ",".join(sorted(invoice_ids)), channel, day, pv)


def has_due_reminder(state: Mapping[str, Any], on: date) -> bool:
    """Whether a stored state's next actions hold a reminder due on or before ``on``."""
    day = on.isoformat()
    return any(
        a.get("kind") == "reminder" and a.get("channel") and str(a.get("date")) <= day
        for a in (state.get("decision") or {}).get("next_actions") or ()
    )


def due_messages(
    state: Mapping[str, Any],
    customer: Mapping[str, Any],
    open_invoices: pd.DataFrame | Sequence[Mapping[str, Any]],
    on: date,
) -> list[dict[str, Any]]:
    """Outbox rows for the reminders of ``state``'s next actions due on or before ``on``.

    Args:
        state: a stored customer state (``decision`` is the policy decision as JSON).
        customer: customer row without name or email (the greeting stays generic; the
            address is looked up only when the message is delivered).
        open_invoices: the customer's open invoices (with ``open_amount`` when known), a
            frame or its records.
        on: the day the messages are planned for.

    Returns:
        Rows with ``message_id``, ``customer_id``, ``invoice_ids``, ``channel``, ``tone``,
        ``text``, ``policy_version``, ``due_date``.
    """
    if not has_due_reminder(state, on):
        return []
    decision = Decision.model_validate(state["decision"])
    recs = (
        open_invoices.to_dict("records")
        if isinstance(open_invoices, pd.DataFrame)
        else open_invoices
    )
    out = []
    for action in decision.next_actions:
        if action.kind != "reminder" or action.date > on or not action.channel:
            continue
        ids = [str(i) for i in action.invoice_ids]
        wanted = set(ids)
        inv = [r for r in recs if str(r["invoice_id"]) in wanted]
        text = render_message(decision, customer, inv, action.channel)
        out.append(
            {
                "message_id": message_id(
                    decision.customer_id, ids, action.channel, action.date, decision.policy_version
                ),  # fmt: skip
                "customer_id": decision.customer_id,
                "invoice_ids": ids,
                "channel": action.channel,
                "tone": action.tone or decision.tone,
                "text": text,
                "policy_version": decision.policy_version,
                "due_date": action.date,
            }
        )
    return out


def outbox_messages(
    states: Mapping[str, Mapping[str, Any]],
    tables: Mapping[str, pd.DataFrame],
    on: date,
) -> list[dict[str, Any]]:
    """:func:`due_messages` of many customers at once.

    Args:
        states: stored states by customer id.
        tables: contract tables holding at least the customers with a due reminder.
        on: the day the messages are planned for.

    Returns:
        The outbox rows of every state, customer by customer.
    """
    from payer_model.policy.segment import open_invoices_at
    from payer_model.policy.vector import frame_records

    due = {cid: s for cid, s in states.items() if has_due_reminder(s, on)}
    if not due:
        return []
    as_of = pd.Timestamp(max(s["as_of"] for s in states.values()))
    open_inv = open_invoices_at(tables, as_of)
    recs: dict[str, list[dict[str, Any]]] = {}
    for r in frame_records(open_inv):
        recs.setdefault(str(r["customer_id"]), []).append(r)
    cust = {str(r["customer_id"]): r for r in frame_records(tables["customers"])}
    out = []
    for cid, state in due.items():
        if cid in recs:
            out += due_messages(state, cust.get(cid, {"customer_id": cid}), recs[cid], on)
    return out


def text_hash(text: str) -> str:
    """sha256 of a message text: what the audit keeps instead of the text."""
    return hashlib.sha256(text.encode()).hexdigest()
