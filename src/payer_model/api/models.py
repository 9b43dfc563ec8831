"""The API's typed IO: pydantic models that carry the data contract's row rules.

Validation happens once, at the edge: a body that parses into :class:`ScoreRequest` is a
set of contract-clean tables (the same rules, reason codes and normalisations as
:mod:`payer_model.data.validators`: document type inferred from the sign, ``disputed`` implied
by a dispute date). :func:`validation_problems` turns pydantic's error list into problems
naming the customer index, the table and row, the field and the rule, for a 400 answer.

Names and emails are not accepted (``extra="forbid"`` on every model), so they never reach
logs, the audit store or MLflow.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from payer_model.config import MAX_AMOUNT, plausible_date_window
from payer_model.data.parsing import ImplausibleDateError, check_plausible_date
from payer_model.data.report import REASONS
from payer_model.data.schema import CHANNELS, CUSTOMER_TYPES, DOCUMENT_TYPES, RATINGS

MAX_CUSTOMERS = 1000
MAX_INVOICES = 5000
MAX_EVENTS = 5000
MAX_INVOICE_RESULTS = 50  # open invoices returned per customer by /score (largest risk first)
ID_FIELD = Field(min_length=1, max_length=64)
TEXT_FIELD = Field(default=None, max_length=64)


class StrictIn(BaseModel):
    """Base of every request model: unknown fields refused, NaN/inf refused."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, hide_input_in_errors=True
    )


class InvoiceIn(StrictIn):
    """One invoice (or credit note, negative amount) in the data-contract shape."""

    invoice_id: str = ID_FIELD
    invoice_date: date
    due_date: date
    amount: float
    document_type: Literal[DOCUMENT_TYPES] | None = None  # type: ignore[valid-type]
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    paid_date: date | None = None
    paid_amount: float | None = None
    disputed: bool | None = None
    dispute_date: date | None = None
    written_off_date: date | None = None


class PaymentIn(StrictIn):
    """A (partial) payment of one invoice."""

    invoice_id: str = ID_FIELD
    payment_date: date
    amount: float
    payment_id: str | None = TEXT_FIELD

    @model_validator(mode="after")
    def _contract(self) -> PaymentIn:
        if self.amount <= 0:
            raise _rule("non_positive_amount", "amount")
        if self.amount > MAX_AMOUNT:
            raise _rule("amount_out_of_range", "amount")
        return self


class ReminderIn(StrictIn):
    """A collection contact about one invoice."""

    invoice_id: str = ID_FIELD
    sent_date: date
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    outcome: str | None = TEXT_FIELD


class CustomerIn(StrictIn):
    """One customer with its history. No name or email: they are refused (PII)."""

    customer_id: str = ID_FIELD
    customer_type: Literal[CUSTOMER_TYPES]  # type: ignore[valid-type]
    industry: str | None = TEXT_FIELD
    country: str | None = Field(default=None, max_length=8)
    payment_terms_days: int | None = Field(default=None, ge=0, le=3650)
    credit_limit: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    created_date: date | None = None
    invoices: list[InvoiceIn] = Field(min_length=1, max_length=MAX_INVOICES)
    payments: list[PaymentIn] = Field(default_factory=list, max_length=MAX_EVENTS)
    reminders: list[ReminderIn] = Field(default_factory=list, max_length=MAX_EVENTS)
    rating: Literal[RATINGS] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="/segment_policy only: an already known rating that overrides the model",
    )
    p_bad: float | None = Field(
        default=None, ge=0, le=1, description="/segment_policy only: known P(bad) to use"
    )

    @model_validator(mode="after")
    def _contract(self) -> CustomerIn:
        return check_customer(self)


class ScoreRequest(StrictIn):
    """``POST /score`` and ``POST /segment_policy`` body."""

    as_of: date | None = Field(default=None, description="decision date; today (UTC) when omitted")
    customers: list[CustomerIn] = Field(min_length=1, max_length=MAX_CUSTOMERS)
    include_invoices: bool = Field(
        default=True,
        description="/score: list each customer's open invoices with P(late), band and "
        "expected pay date (when an invoice model is registered); false to leave them out",
    )

    @model_validator(mode="after")
    def _contract(self) -> ScoreRequest:
        return check_request(self)


class Reason(BaseModel):
    """One reason code toward a rating."""

    code: str
    feature: str | None = None
    value: float | None = None
    reference: float | None = None
    contribution: float | None = None
    text: str


class InvoicePrediction(BaseModel):
    """One open invoice of a customer: P(late), band and expected payment date."""

    invoice_id: str
    due_date: date
    outstanding: float
    p_late: float
    p_late_30: float
    band: str
    expected_pay_date: date | None
    pay_date_low: date | None
    pay_date_high: date | None
    expected_overdue_amount: float


class CustomerScore(BaseModel):
    """Rating of one customer."""

    customer_id: str
    as_of: date
    rating: str
    p_good: float | None
    p_average: float | None
    p_bad: float | None
    p_not_good: float | None
    score: float | None
    reasons: list[Reason]
    segment: str
    model_version: str
    policy_version: str
    open_invoices: list[InvoicePrediction] | None = Field(
        default=None,
        description=f"open invoices, largest expected overdue amount first (at most "
        f"{MAX_INVOICE_RESULTS}); null without an invoice model or with include_invoices false",
    )
    open_invoices_total: int | None = None
    invoice_model_version: str | None = None


class ScoreResponse(BaseModel):
    """``POST /score`` answer."""

    request_id: str
    model_version: str
    policy_version: str
    results: list[CustomerScore]


class SegmentPolicyResponse(BaseModel):
    """``POST /segment_policy`` answer: one policy decision per customer."""

    request_id: str
    model_version: str
    policy_version: str
    results: list[dict[str, Any]]


def _rule(code: str, path: str) -> PydanticCustomError:
    """A broken contract rule: the reason code as type, the field's path leading the message.

    The path is relative to the model validated (``invoices[3].due_date`` in a customer).
    """
    return PydanticCustomError(code, "{path}: {meaning}", {"path": path, "meaning": REASONS[code]})


def _plausible(value: date | None, path: str, window: tuple[date, date]) -> None:
    """The plausible-date rule (:func:`payer_model.data.parsing.check_plausible_date`)."""
    if value is None or window[0] <= value <= window[1]:
        return
    try:
        check_plausible_date(value, path, window=window)
    except ImplausibleDateError as exc:
        raise PydanticCustomError(
            "date_out_of_range", "{message}", {"message": str(exc)}
        ) from None


_DATES = ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date")
_LATER_DATES = (
    ("due_date", "due_before_invoice"),
    ("paid_date", "paid_before_invoice"),
    ("dispute_date", "dispute_before_invoice"),
    ("written_off_date", "writeoff_before_invoice"),
)


def check_invoice(inv: InvoiceIn, k: int, window: tuple[date, date] | None = None) -> None:
    """The invoice row rules of the contract, and its normalisations (row ``k``)."""
    if not math.isfinite(inv.amount) or inv.amount == 0:
        raise _rule("zero_amount", f"invoices[{k}].amount")
    for amount in (inv.amount, inv.paid_amount):
        if amount is not None and abs(amount) > MAX_AMOUNT:
            raise _rule("amount_out_of_range", f"invoices[{k}].amount")
    window = window or plausible_date_window()
    for field in _DATES:
        _plausible(getattr(inv, field), f"invoices[{k}].{field}", window)
    if inv.document_type is None:  # as the contract: the sign says what the document is
        inv.document_type = "credit_note" if inv.amount < 0 else "invoice"
    if inv.document_type == "invoice" and inv.amount < 0:
        raise _rule("negative_amount_on_invoice", f"invoices[{k}].amount")
    if inv.document_type == "credit_note" and inv.amount > 0:
        raise _rule("positive_amount_on_credit_note", f"invoices[{k}].amount")
    for field, code in _LATER_DATES:
        value = getattr(inv, field)
        if value is not None and value < inv.invoice_date:
            raise _rule(code, f"invoices[{k}].{field}")
    if inv.disputed is None:
        inv.disputed = inv.dispute_date is not None


def check_customer(c: CustomerIn) -> CustomerIn:
    """Row rules of one customer's tables, unique ids, events that name a known invoice.

    One validator per customer (not one per invoice): pydantic's per-model validator call
    costs more than the rules themselves on a 1,000-customer request.
    """
    window = plausible_date_window()
    _plausible(c.created_date, "created_date", window)
    invoices: dict[str, InvoiceIn] = {}
    for k, inv in enumerate(c.invoices):
        check_invoice(inv, k, window)
        if inv.invoice_id in invoices:
            raise _rule("duplicate_invoice_id", f"invoices[{k}].invoice_id")
        invoices[inv.invoice_id] = inv
    seen: set[str] = set()
    for k, p in enumerate(c.payments):
        inv = invoices.get(p.invoice_id)
        if inv is None:
            raise _rule("unknown_invoice", f"payments[{k}].invoice_id")
        _plausible(p.payment_date, f"payments[{k}].payment_date", window)
        if p.payment_date < inv.invoice_date:
            raise _rule("payment_before_invoice", f"payments[{k}].payment_date")
        if p.payment_id is not None:
            if p.payment_id in seen:
                raise _rule("duplicate_payment_id", f"payments[{k}].payment_id")
            seen.add(p.payment_id)
    for k, r in enumerate(c.reminders):
        if r.invoice_id not in invoices:
            raise _rule("unknown_invoice", f"reminders[{k}].invoice_id")
        _plausible(r.sent_date, f"reminders[{k}].sent_date", window)
    return c


def check_request(req: ScoreRequest) -> ScoreRequest:
    """Plausible as-of; ids unique across the request (customers, and invoices as in one table)."""
    _plausible(req.as_of, "as_of", plausible_date_window())
    customers: set[str] = set()
    invoices: set[str] = set()
    for i, c in enumerate(req.customers):
        if c.customer_id in customers:
            raise _rule("duplicate_customer_id", f"customers[{i}].customer_id")
        customers.add(c.customer_id)
        for k, inv in enumerate(c.invoices):
            if inv.invoice_id in invoices:
                raise _rule("duplicate_invoice_id", f"customers[{i}].invoices[{k}].invoice_id")
            invoices.add(inv.invoice_id)
    return req


_STEP = re.compile(r"(\w+)\[(\d+)\]")


def validation_problems(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per problem: customer index, table and row, field, rule and message.

    Reads pydantic's error list (``exc.errors()``, or the ``detail`` BentoML answers with):
    the location, plus for the contract rules the path their message starts with.
    """
    problems = []
    for err in errors:
        path = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in err.get("loc", ()))
        msg = str(err.get("msg", ""))
        if err.get("type") in REASONS:
            path += "." + msg.split(":", 1)[0]
        path = path.strip(".")
        item: dict[str, Any] = {"rule": err.get("type"), "message": msg}
        steps = dict(_STEP.findall(path))
        if "customers" in steps:
            item["customer_index"] = int(steps["customers"])
        for table in ("invoices", "payments", "reminders"):
            if table in steps:
                item["table"], item["row"] = table, int(steps[table])
        item["field"] = _STEP.sub(r"\1", path).rsplit(".", 1)[-1] or None
        problems.append(item)
    return problems


def request_tables(req: ScoreRequest) -> dict[str, Any]:
    """Contract tables (pandas frames) from a request; rows keep their request order."""
    import pandas as pd

    cust, inv, pay, rem = [], [], [], []
    for c in req.customers:
        cid = c.customer_id
        cust.append(
            c.model_dump(
                exclude={"invoices", "payments", "reminders", "rating", "p_bad"},
                exclude_none=False,
            )
        )
        inv.extend({**i.model_dump(), "customer_id": cid} for i in c.invoices)
        pay.extend({**p.model_dump(), "customer_id": cid} for p in c.payments)
        rem.extend({**r.model_dump(), "customer_id": cid} for r in c.reminders)

    def frame(rows: list[dict[str, Any]], model: type) -> pd.DataFrame | None:
        return pd.DataFrame(rows, columns=[*model.model_fields, "customer_id"]) if rows else None

    return {
        "customers": pd.DataFrame(cust),
        "invoices": frame(inv, InvoiceIn),
        "payments": frame(pay, PaymentIn),
        "reminders": frame(rem, ReminderIn),
    }


def input_hash(customer: CustomerIn, as_of: date) -> str:
    """sha256 of one customer's canonical input and the as-of date (for the audit log).

    Canonical: the validated model serialised by pydantic (fields in model order, defaults
    filled), so the same customer sent with keys in another order hashes the same.
    """
    digest = hashlib.sha256(as_of.isoformat().encode())
    digest.update(customer.model_dump_json().encode())
    return digest.hexdigest()
