"""Jinja2 message templates per tone and channel, and :func:`render_message`.

Templates are named ``{tone}_{channel}.j2`` (tone: friendly, neutral, firm; channel: email,
sms, letter, call; a call renders a script for the collector). The text is ready to send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

TEMPLATE_DIR = Path(__file__).parent
PAY_WITHIN_DAYS = 7
_INCENTIVES = ("early_payment_discount_pct", "early_payment_days", "payment_plan", "late_fee_pct")


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for mail bodies, SMS and scripts, not HTML
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=64)
def _template(name: str):
    """A compiled template, loaded once per process (templates ship with the package)."""
    return _env().get_template(name)


def render_message(
    decision: Any,
    customer: Mapping[str, Any],
    invoices: pd.DataFrame | Sequence[Mapping[str, Any]],
    channel: str,
) -> str:
    """Render the message for a decision's tone and a channel.

    Args:
        decision: a :class:`payer_model.policy.decide.Decision`.
        customer: customer row; ``name`` is used for the greeting only (never stored).
        invoices: invoices to list, a frame or its records (``invoice_id``, ``due_date``,
            ``amount``, optional ``currency``); invoices stopped by the decision (paid,
            disputed, promised) are left out.
        channel: email, sms, letter or call.

    Returns:
        The message text.
    """
    as_of = pd.Timestamp(decision.as_of)
    rows = []
    recs = invoices.to_dict("records") if isinstance(invoices, pd.DataFrame) else invoices
    for rec in recs:
        iid = str(rec["invoice_id"])
        if iid in decision.stopped:
            continue
        due = pd.Timestamp(rec["due_date"])
        cur = rec.get("currency")
        amount = rec.get("open_amount", rec["amount"])  # net of partial payments if known
        rows.append(
            {
                "invoice_id": iid,
                "amount": float(amount),
                "currency": cur if isinstance(cur, str) else "EUR",
                "due_date": due.date().isoformat(),
                "days_overdue": max((as_of - due).days, 0),
            }
        )
    currency = rows[0]["currency"] if rows else "EUR"
    name = customer.get("name")
    next_step = next((a.next_step for a in decision.next_actions if a.kind == "escalation"), None)
    ctx = {
        "name": name if isinstance(name, str) and name else "Customer",
        "customer_id": decision.customer_id,
        "segment": decision.segment,
        "invoices": rows,
        "total": sum(r["amount"] for r in rows),
        "currency": currency,
        "today": as_of.date().isoformat(),
        "pay_by": (as_of + timedelta(days=PAY_WITHIN_DAYS)).date().isoformat(),
        "incentives": {**dict.fromkeys(_INCENTIVES), **decision.policy.get("incentives", {})},
        "credit_action": decision.credit.action,
        "next_step": next_step or "escalation to a collector",
    }
    return _template(f"{decision.tone}_{channel}.j2").render(**ctx).strip() + "\n"
