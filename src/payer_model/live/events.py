"""Typed ledger events and their validation: one bad event is quarantined with its reason.

Every event has an ``event_id`` (replaying it changes nothing), a ``type``, the
``customer_id`` it belongs to and its own date (``date`` or the type's date field): the
ledger folds events in the order of their own dates, never in the order they arrived.

Rules are those of the data contract, with its reason codes
(:data:`payer_model.data.report.REASONS`): a zero amount, a due date before the invoice
date, a payment before its invoice, an unknown channel... plus the ledger's own
(:data:`LEDGER_REASONS`). A contact email (optional on ``customer_registered`` and
``invoice_issued``) only addresses messages: :func:`split_contact` takes it out of the
event before anything is stored or logged.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from payer_model.data.report import REASONS
from payer_model.data.schema import CHANNELS, CUSTOMER_TYPES, DOCUMENT_TYPES

OUTCOMES: tuple[str, ...] = (
    "opened",
    "replied",
    "no_response",
    "promise_to_pay",
    "dispute_opened",
    "dispute_resolved",
)
"""Reminder outcomes; a dispute is opened or resolved on an invoice through its outcome."""

STOPPING_OUTCOMES = frozenset({"promise_to_pay", "dispute_opened"})
"""Outcomes that stop the pending messages of their invoice (as a payment does)."""

LEDGER_REASONS: dict[str, str] = {
    "invalid_event": "the event does not match any event type (see the message)",
    "unknown_event_type": "type is not one of the event types",
    "missing_promise_date": "a promise_to_pay outcome needs promise_date",
    "promise_before_outcome": "promise_date earlier than the outcome date",
    "duplicate_allocation": "a payment allocates to the same invoice twice",
    "event_id_reused": "event_id already used by a different event",
    "invoice_reissued": "invoice_issued for an invoice_id another event already issued",
}
"""Reason codes of the ledger that the contract does not have."""

_ID = Field(min_length=1, max_length=128)
_TEXT = Field(default=None, max_length=64)


class _Event(BaseModel):
    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, frozen=True
    )

    event_id: str = _ID
    customer_id: str = _ID

    @property
    def day(self) -> date:
        """The event's own date (the date its facts became true)."""
        return self.date  # type: ignore[attr-defined]

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        """The invoices this event is about (empty for customer events)."""
        return (self.invoice_id,)  # type: ignore[attr-defined]


def _rule(code: str, field: str) -> PydanticCustomError:
    meaning = REASONS.get(code) or LEDGER_REASONS[code]
    return PydanticCustomError(code, "{field}: {meaning}", {"field": field, "meaning": meaning})


class CustomerRegistered(_Event):
    """A customer's attributes, valid from ``date`` (a later event's values win)."""

    type: Literal["customer_registered"]
    date: date
    customer_type: Literal[CUSTOMER_TYPES] | None = None  # type: ignore[valid-type]
    industry: str | None = _TEXT
    country: str | None = Field(default=None, max_length=8)
    payment_terms_days: int | None = Field(default=None, ge=0, le=3650)
    credit_limit: float | None = Field(default=None, ge=0)
    created_date: date | None = None
    contact_email: str | None = Field(default=None, max_length=254)

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        """No invoice: a customer event."""
        return ()


class InvoiceIssued(_Event):
    """An invoice (or a credit note: negative amount) issued on ``invoice_date``."""

    type: Literal["invoice_issued"]
    invoice_id: str = _ID
    invoice_date: date
    due_date: date
    amount: float
    document_type: Literal[DOCUMENT_TYPES] | None = None  # type: ignore[valid-type]
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    contact_email: str | None = Field(default=None, max_length=254)

    @property
    def day(self) -> date:
        """The invoice date."""
        return self.invoice_date

    @model_validator(mode="after")
    def _contract(self) -> InvoiceIssued:
        if not math.isfinite(self.amount) or self.amount == 0:
            raise _rule("zero_amount", "amount")
        kind = self.document_type or ("credit_note" if self.amount < 0 else "invoice")
        if kind == "invoice" and self.amount < 0:
            raise _rule("negative_amount_on_invoice", "amount")
        if kind == "credit_note" and self.amount > 0:
            raise _rule("positive_amount_on_credit_note", "amount")
        if self.due_date < self.invoice_date:
            raise _rule("due_before_invoice", "due_date")
        return self


class InvoiceChanged(_Event):
    """A change of an issued invoice's due date, amount or currency, effective ``date``."""

    type: Literal["invoice_changed"]
    invoice_id: str = _ID
    date: date
    due_date: date | None = None
    amount: float | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _contract(self) -> InvoiceChanged:
        if self.amount is not None and self.amount == 0:
            raise _rule("zero_amount", "amount")
        return self


class InvoiceCredited(_Event):
    """A credit note of ``amount`` (positive) against an invoice, issued on ``date``."""

    type: Literal["invoice_credited"]
    invoice_id: str = _ID
    credit_note_id: str = _ID
    date: date
    amount: float = Field(gt=0)


class Allocation(BaseModel):
    """The part of a payment that goes to one invoice; ``full`` settles the invoice."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    invoice_id: str = _ID
    amount: float
    full: bool = False

    @model_validator(mode="after")
    def _contract(self) -> Allocation:
        if self.amount <= 0:
            raise _rule("non_positive_amount", "amount")
        return self


class PaymentReceived(_Event):
    """A payment received on ``payment_date``, allocated to one or more invoices."""

    type: Literal["payment_received"]
    payment_id: str | None = _TEXT
    payment_date: date
    allocations: list[Allocation] = Field(min_length=1, max_length=1000)

    @property
    def day(self) -> date:
        """The payment date."""
        return self.payment_date

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        """The invoices it pays."""
        return tuple(a.invoice_id for a in self.allocations)

    @model_validator(mode="after")
    def _unique(self) -> PaymentReceived:
        if len(set(self.invoice_ids)) != len(self.allocations):
            raise _rule("duplicate_allocation", "allocations")
        return self


class ReminderSent(_Event):
    """A reminder about an invoice sent on ``sent_date`` (``reminder_id``: event id if None)."""

    type: Literal["reminder_sent"]
    invoice_id: str = _ID
    sent_date: date
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    template: str | None = _TEXT
    tone: str | None = _TEXT
    reminder_id: str | None = Field(default=None, max_length=128)
    message_id: str | None = Field(default=None, max_length=128)

    @property
    def day(self) -> date:
        """The send date."""
        return self.sent_date


class ReminderOutcome(_Event):
    """What came of a reminder, dated ``date``; disputes are opened and resolved here.

    ``reminder_id`` names the reminder; without it the outcome belongs to the invoice's
    latest reminder sent on or before ``date``.
    """

    type: Literal["reminder_outcome"]
    invoice_id: str = _ID
    date: date
    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    promise_date: date | None = None
    reminder_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _contract(self) -> ReminderOutcome:
        if self.outcome == "promise_to_pay" and self.promise_date is None:
            raise _rule("missing_promise_date", "promise_date")
        if self.promise_date is not None and self.promise_date < self.date:
            raise _rule("promise_before_outcome", "promise_date")
        return self


class WriteOff(_Event):
    """An invoice written off on ``date``."""

    type: Literal["write_off"]
    invoice_id: str = _ID
    date: date


Event = Annotated[
    CustomerRegistered
    | InvoiceIssued
    | InvoiceChanged
    | InvoiceCredited
    | PaymentReceived
    | ReminderSent
    | ReminderOutcome
    | WriteOff,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[str, ...] = (
    "customer_registered",
    "invoice_issued",
    "invoice_changed",
    "invoice_credited",
    "payment_received",
    "reminder_sent",
    "reminder_outcome",
    "write_off",
)
"""In the order events of one date are folded (an invoice is issued before it is paid)."""
TYPE_ORDER = {t: k for k, t in enumerate(EVENT_TYPES)}
EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)
CONTACT_FIELD = "contact_email"


def event_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of an event's canonical JSON (a replay with another content is refused)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def split_contact(raw: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The event without its contact email, and the email (None when absent)."""
    out = dict(raw)
    email = out.pop(CONTACT_FIELD, None)
    return out, (str(email).strip() or None) if email is not None else None


def _reason(exc: ValidationError) -> str:
    """``rule: field: meaning`` of the first problem (the rule is the contract's code)."""
    err = exc.errors()[0]
    kind, msg = str(err.get("type")), str(err.get("msg", ""))
    if kind in REASONS or kind in LEDGER_REASONS:
        return f"{kind}: {msg}"
    if kind == "union_tag_invalid":
        return f"unknown_event_type: type: not one of {', '.join(EVENT_TYPES)}"
    if kind == "union_tag_not_found":
        return f"invalid_event: type: missing (one of {', '.join(EVENT_TYPES)})"
    loc = tuple(err.get("loc", ()))
    where = ".".join(str(x) for x in loc[1:]) or (str(loc[0]) if loc else "event")
    if kind == "missing":  # the contract's code for an empty required value
        return f"missing_value:{where}: {REASONS['missing_value:<col>']}"
    return f"invalid_event: {where}: {msg}"


def parse_event(raw: Mapping[str, Any]) -> tuple[Any | None, str | None]:
    """One raw event (a dict from JSON or CSV) as a typed event, or the quarantine reason.

    Returns:
        ``(event, None)`` or ``(None, reason)``; the reason starts with its rule code.
    """
    if not isinstance(raw, Mapping):
        return None, "invalid_event: the event is not an object"
    if "_error" in raw:  # the reader could not parse it (e.g. a line that is not JSON)
        return None, f"invalid_event: {raw['_error']}"
    try:
        return EVENT_ADAPTER.validate_python(dict(raw)), None
    except ValidationError as exc:
        return None, _reason(exc)


def event_payload(event: Any) -> dict[str, Any]:
    """The event as stored: JSON types, without the contact email, without empty fields."""
    data = event.model_dump(mode="json", exclude_none=True)
    data.pop(CONTACT_FIELD, None)
    return data


def load_event(payload: Mapping[str, Any]) -> Any:
    """A stored event payload back as its typed event."""
    return EVENT_ADAPTER.validate_python(dict(payload))


class InvoiceFacts(BaseModel):
    """What the rules of later events need to know about an issued invoice."""

    customer_id: str
    invoice_date: date


def check_context(event: Any, invoices: Mapping[str, InvoiceFacts]) -> str | None:
    """Rules between an event and the invoices it names (when they are known).

    An event about an invoice not issued yet is kept: it waits for its invoice (events may
    arrive in any order). Known invoices must belong to the event's customer, and a payment,
    reminder, outcome, credit or write-off may not predate its invoice.

    Returns:
        The quarantine reason, or None when the event passes.
    """
    if isinstance(event, InvoiceIssued | CustomerRegistered):
        return None
    for iid in event.invoice_ids:
        known = invoices.get(iid)
        if known is None:
            continue
        if known.customer_id != event.customer_id:
            return f"customer_mismatch: invoice_id {iid}: {REASONS['customer_mismatch']}"
        if event.day < known.invoice_date:
            code = (
                "payment_before_invoice"
                if isinstance(event, PaymentReceived)
                else "writeoff_before_invoice"
                if isinstance(event, WriteOff)
                else "dispute_before_invoice"
            )
            return f"{code}: {iid}: {REASONS[code]}"
    return None


def facts_of(events: Iterable[Any]) -> dict[str, InvoiceFacts]:
    """Invoice facts of the ``invoice_issued`` events among ``events``."""
    return {
        e.invoice_id: InvoiceFacts(customer_id=e.customer_id, invoice_date=e.invoice_date)
        for e in events
        if isinstance(e, InvoiceIssued)
    }
