"""Events -> contract rows: one invoice's rows are a fold of its events in their dates' order.

An invoice's row (``schema.INVOICE_COLUMNS``), its payments and its reminders depend only on
the set of events naming it, sorted by (own date, type order, event id): the order in which
they arrived never matters, so a shuffled stream ends in the same tables as an ordered one.

* ``invoice_issued`` sets the row (a credit note is a row with a negative amount);
  ``invoice_changed`` changes due date, amount or currency; ``invoice_credited`` adds a
  credit-note row of its own.
* ``payment_received``: each allocation is a payments row; the invoice is paid
  (``paid_date``) by the first allocation flagged ``full`` when one is, else on the day the
  allocations reach its amount.
* ``reminder_outcome``: ``dispute_opened`` / ``dispute_resolved`` set ``disputed`` (the
  first dispute's date stays); every outcome is written on its reminder.
* ``write_off`` sets ``written_off_date``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from payer_model.data.schema import DEFAULT_CURRENCY
from payer_model.live.events import (
    TYPE_ORDER,
    CustomerRegistered,
    InvoiceChanged,
    InvoiceCredited,
    InvoiceIssued,
    PaymentReceived,
    ReminderOutcome,
    ReminderSent,
    WriteOff,
)

PAID_TOLERANCE = 0.005
"""Allocations within half a cent of the amount settle the invoice."""


def ordered(events: Iterable[Any]) -> list[Any]:
    """Events in fold order: own date, then type order, then event id."""
    return sorted(events, key=lambda e: (e.day, TYPE_ORDER[e.type], e.event_id))


@dataclass
class InvoiceRows:
    """The contract rows of one invoice id (``invoice`` None until it is issued)."""

    invoice: dict[str, Any] | None = None
    credit_notes: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)


def _credit_note(e: InvoiceCredited) -> dict[str, Any]:
    return {
        "invoice_id": e.credit_note_id,
        "customer_id": e.customer_id,
        "document_type": "credit_note",
        "invoice_date": e.date,
        "due_date": e.date,
        "amount": -e.amount,
        "currency": None,
        "paid_date": None,
        "paid_amount": None,
        "disputed": False,
        "dispute_date": None,
        "written_off_date": None,
    }


def _issued(e: InvoiceIssued) -> dict[str, Any]:
    return {
        "invoice_id": e.invoice_id,
        "customer_id": e.customer_id,
        "document_type": e.document_type or ("credit_note" if e.amount < 0 else "invoice"),
        "invoice_date": e.invoice_date,
        "due_date": e.due_date,
        "amount": e.amount,
        "currency": e.currency or DEFAULT_CURRENCY,
        "paid_date": None,
        "paid_amount": None,
        "disputed": False,
        "dispute_date": None,
        "written_off_date": None,
    }


def _target_reminder(rows: list[dict[str, Any]], e: ReminderOutcome) -> dict[str, Any] | None:
    if e.reminder_id is not None:
        return next((r for r in rows if r["reminder_id"] == e.reminder_id), None)
    sent = [r for r in rows if r["sent_date"] <= e.date]
    return sent[-1] if sent else None


def _pay(
    inv: dict[str, Any] | None, e: PaymentReceived, iid: str, out: InvoiceRows, by_flag: bool
) -> None:
    alloc = next(a for a in e.allocations if a.invoice_id == iid)
    out.payments.append(
        {
            "payment_id": f"{e.payment_id or e.event_id}:{iid}",
            "invoice_id": iid,
            "customer_id": e.customer_id,
            "payment_date": e.payment_date,
            "amount": alloc.amount,
        }
    )
    if inv is None:
        return
    inv["paid_amount"] = (inv["paid_amount"] or 0.0) + alloc.amount
    reached = inv["paid_amount"] >= inv["amount"] - PAID_TOLERANCE
    if inv["paid_date"] is None and (alloc.full if by_flag else reached):
        inv["paid_date"] = e.payment_date


def _outcome(inv: dict[str, Any] | None, e: ReminderOutcome, out: InvoiceRows) -> None:
    rem = _target_reminder(out.reminders, e)
    if rem is not None:
        rem["outcome"] = e.outcome
        if e.promise_date is not None:
            rem["promise_date"] = e.promise_date
    if inv is None:
        return
    if e.outcome == "dispute_opened":
        inv["disputed"] = True
        inv["dispute_date"] = inv["dispute_date"] or e.date
    elif e.outcome == "dispute_resolved":
        inv["disputed"] = False


def fold_invoice(invoice_id: str, events: Iterable[Any]) -> InvoiceRows:  # noqa: PLR0912
    """The contract rows of one invoice from every event that names it (any order).

    Returns:
        The invoice row (None while no ``invoice_issued`` is known), its credit notes,
        payments rows (one per allocation) and reminders rows (with their outcome).
    """
    out = InvoiceRows()
    inv: dict[str, Any] | None = None
    events = ordered(events)
    # a payment flagged full says when the invoice was settled: amounts then only add up
    by_flag = any(
        a.full
        for e in events
        if isinstance(e, PaymentReceived)
        for a in e.allocations
        if a.invoice_id == invoice_id
    )
    for e in events:
        if isinstance(e, InvoiceIssued):
            if inv is None:
                inv = _issued(e)
        elif isinstance(e, InvoiceChanged):
            if inv is not None:
                for name in ("due_date", "amount", "currency"):
                    if getattr(e, name) is not None:
                        inv[name] = getattr(e, name)
        elif isinstance(e, InvoiceCredited):
            out.credit_notes.append(_credit_note(e))
        elif isinstance(e, PaymentReceived):
            _pay(inv, e, invoice_id, out, by_flag)
        elif isinstance(e, ReminderSent):
            out.reminders.append(
                {
                    "reminder_id": e.reminder_id or e.event_id,
                    "invoice_id": invoice_id,
                    "customer_id": e.customer_id,
                    "sent_date": e.sent_date,
                    "channel": e.channel,
                    "outcome": None,
                    "promise_date": None,
                }
            )
        elif isinstance(e, ReminderOutcome):
            _outcome(inv, e, out)
        elif isinstance(e, WriteOff) and inv is not None:
            inv["written_off_date"] = inv["written_off_date"] or e.date
    out.invoice = inv
    return out


CUSTOMER_FIELDS: tuple[str, ...] = (
    "customer_type",
    "industry",
    "country",
    "payment_terms_days",
    "credit_limit",
    "created_date",
)


def fold_customer(customer_id: str, events: Iterable[Any]) -> dict[str, Any]:
    """The customers row from ``customer_registered`` events: a later date's values win."""
    row: dict[str, Any] = {"customer_id": customer_id, **dict.fromkeys(CUSTOMER_FIELDS)}
    for e in ordered(x for x in events if isinstance(x, CustomerRegistered)):
        for name in CUSTOMER_FIELDS:
            value = getattr(e, name)
            if value is not None:
                row[name] = float(value) if name == "payment_terms_days" else value
    return row
