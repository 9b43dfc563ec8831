"""Canonical column names and value sets of the data contract (DESIGN §2).

One source of truth: the loader, the generator, the features, the API models and the
tests all import these names instead of spelling them again.
"""

from __future__ import annotations

RATINGS: tuple[str, ...] = ("good", "average", "bad")
"""Model classes, in class-index order (0 = good, 1 = average, 2 = bad)."""

UNRATED = "unrated"
ALL_RATINGS: tuple[str, ...] = (*RATINGS, UNRATED)

CUSTOMER_TYPES: tuple[str, ...] = ("company", "sole_trader", "individual")
NATURAL_PERSON_TYPES: frozenset[str] = frozenset({"sole_trader", "individual"})

DOCUMENT_TYPES: tuple[str, ...] = ("invoice", "credit_note")

TABLES: tuple[str, ...] = ("customers", "invoices", "payments", "reminders")
REQUIRED_TABLES: tuple[str, ...] = ("invoices",)

# customers: one row per customer
CUSTOMER_REQUIRED: tuple[str, ...] = ("customer_id",)
CUSTOMER_OPTIONAL: tuple[str, ...] = (
    "customer_type",
    "industry",
    "country",
    "payment_terms_days",
    "credit_limit",
    "created_date",
    "name",
    "email",
)
PII_COLUMNS: frozenset[str] = frozenset({"name", "email"})
"""Never a feature, never logged, never sent to MLflow or the audit store."""

# invoices: one row per invoice (credit notes have negative amounts)
INVOICE_REQUIRED: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "invoice_date",
    "due_date",
    "amount",
)
INVOICE_OPTIONAL: tuple[str, ...] = (
    "document_type",
    "currency",
    "paid_date",
    "paid_amount",
    "disputed",
    "dispute_date",
    "written_off_date",
)

# payments: partial (or full) payments per invoice
PAYMENT_REQUIRED: tuple[str, ...] = ("invoice_id", "payment_date", "amount")
PAYMENT_OPTIONAL: tuple[str, ...] = ("payment_id", "customer_id")

# reminders: collection contacts per invoice
REMINDER_REQUIRED: tuple[str, ...] = ("invoice_id", "sent_date", "channel")
REMINDER_OPTIONAL: tuple[str, ...] = ("customer_id", "outcome", "tone", "propensity")
"""``propensity``: the logging policy's probability of this reminder's action when it was
randomised (see :mod:`payer_model.data.chase`), empty for fixed dunning steps."""
CHANNELS: tuple[str, ...] = ("email", "sms", "call", "letter")

DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("created_date",),
    "invoices": ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date"),
    "payments": ("payment_date",),
    "reminders": ("sent_date",),
}

DEFAULT_CURRENCY = "EUR"

# Output columns of the validated tables, in this order (name/email follow the customer
# columns only when the customers file has them).
CUSTOMER_COLUMNS: tuple[str, ...] = (
    *CUSTOMER_REQUIRED,
    *(c for c in CUSTOMER_OPTIONAL if c not in PII_COLUMNS),
)
INVOICE_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "document_type",
    "invoice_date",
    "due_date",
    "amount",
    "currency",
    "paid_date",
    "paid_amount",
    "disputed",
    "dispute_date",
    "written_off_date",
)
PAYMENT_COLUMNS: tuple[str, ...] = (
    "payment_id",
    "invoice_id",
    "customer_id",
    "payment_date",
    "amount",
)
REMINDER_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "sent_date",
    "channel",
    "outcome",
    "tone",
    "propensity",
)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": CUSTOMER_COLUMNS,
    "invoices": INVOICE_COLUMNS,
    "payments": PAYMENT_COLUMNS,
    "reminders": REMINDER_COLUMNS,
}
TABLE_SPECS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL),
    "invoices": (INVOICE_REQUIRED, INVOICE_OPTIONAL),
    "payments": (PAYMENT_REQUIRED, PAYMENT_OPTIONAL),
    "reminders": (REMINDER_REQUIRED, REMINDER_OPTIONAL),
}
"""(required, optional) source columns per table."""

DATE_DTYPE = "datetime64[us]"
"""dtype of every date column of the validated tables (NaT = unknown)."""

# Helper columns of read and quarantined frames (never data columns).
ROW_COL = "_row"
"""1-based line number in the source file (header = line 1); row position for frames."""
REASON_COL = "_reason"
"""Reason codes of a quarantined row, joined by ';'."""
READ_ERROR_COL = "_read_error"
"""Set by the reader on rows it found broken (wrong field count)."""
EXTRA_COL = "_extra"
"""Surplus fields of a row with too many fields, joined by the file's delimiter."""
STAGE_COL = "_stage"
"""Import quarantine only: ``import`` or ``contract``, the stage that rejected the row."""
HELPER_COLUMNS: tuple[str, ...] = (ROW_COL, READ_ERROR_COL, EXTRA_COL)
