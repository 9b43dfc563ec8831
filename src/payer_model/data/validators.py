"""The row rules of the four contract tables (one validator per table).

Each validator parses its table's values (:mod:`payer_model.data.parsing`), runs the table's
named rules (:func:`payer_model.data.rules.run_rules`) and returns an
:class:`~payer_model.data.rules.Outcome`; reason codes are listed in
:data:`payer_model.data.report.REASONS`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from payer_model.config import MAX_AMOUNT
from payer_model.data.parsing import blank_as_na, parse_booleans, to_token
from payer_model.data.rules import (
    Check,
    Outcome,
    PreparedTable,
    add_dates,
    add_numbers,
    base_masks,
    finish_table,
    is_in,
    not_before,
    not_dup,
    run_rules,
    str_col,
)
from payer_model.data.schema import (
    CHANNELS,
    CUSTOMER_REQUIRED,
    CUSTOMER_TYPES,
    DATE_COLUMNS,
    DATE_DTYPE,
    DOCUMENT_TYPES,
    INVOICE_REQUIRED,
    PAYMENT_REQUIRED,
    PII_COLUMNS,
    REMINDER_REQUIRED,
)

__all__ = [
    "validate_customers",
    "validate_invoices",
    "validate_payments",
    "validate_reminders",
]


def _within_max_amount(s: pd.Series) -> pd.Series:
    """False where a number is beyond :data:`payer_model.config.MAX_AMOUNT` (or infinite)."""
    return ~(s.abs() > MAX_AMOUNT)


def validate_customers(tbl: PreparedTable, notes: list[str]) -> Outcome:
    """Validate the customers table (ids, types, terms, limits; PII columns kept as text)."""
    masks = base_masks(tbl, CUSTOMER_REQUIRED)
    dates = add_dates(tbl, ("created_date",), masks)
    nums = add_numbers(tbl, ("payment_terms_days", "credit_limit"), masks, notes)
    ctype = to_token(tbl.col("customer_type"))
    ctype = ctype.where(ctype.ne(""), "company")
    typed = pd.DataFrame(
        {
            "customer_id": blank_as_na(tbl.text["customer_id"]).reset_index(drop=True),
            "customer_type": ctype.reset_index(drop=True),
            "payment_terms_days": nums["payment_terms_days"],
            "credit_limit": nums["credit_limit"],
        }
    )
    masks.update(
        run_rules(
            "customers",
            typed,
            {
                "customer_id": [("duplicate_customer_id", not_dup)],
                "customer_type": [("unknown_customer_type", is_in(CUSTOMER_TYPES))],
                "credit_limit": [
                    ("negative_credit_limit", lambda s: ~(s < 0)),
                    ("amount_out_of_range", _within_max_amount),
                ],
                "payment_terms_days": [("negative_payment_terms", lambda s: ~(s < 0))],
            },
            [],
            {"credit_limit": "float64", "payment_terms_days": "float64"},
        )
    )
    clean = pd.DataFrame(
        {
            "customer_id": typed["customer_id"].astype(str),
            "customer_type": typed["customer_type"].astype(str),
            "industry": str_col(tbl.col("industry"), "unknown"),
            "country": str_col(tbl.col("country"), "unknown"),
            "payment_terms_days": nums["payment_terms_days"],
            "credit_limit": nums["credit_limit"],
            "created_date": dates["created_date"],
        }
    )
    for col in sorted(PII_COLUMNS & set(tbl.text.columns)):
        clean[col] = str_col(tbl.text[col])
    return finish_table(tbl, masks, clean)


def _invoice_fields(
    tbl: PreparedTable,
    amount: pd.Series,
    dates: dict[str, pd.Series],
    default_currency: str,
    masks: dict[str, np.ndarray],
) -> tuple[pd.DataFrame, pd.Series]:
    """The typed frame the invoice rules run on, and ``disputed`` (adds its reason mask)."""
    inferred = pd.Series(np.where(amount < 0, "credit_note", "invoice"), dtype=object)
    doc = to_token(tbl.col("document_type")).reset_index(drop=True)
    doc = doc.where(doc.ne(""), inferred)
    currency = tbl.col("currency").str.upper().reset_index(drop=True)
    currency = currency.where(currency.ne(""), default_currency)
    disputed, bad_bool = parse_booleans(tbl.col("disputed").reset_index(drop=True))
    if tbl.has("disputed"):
        masks["bad_boolean:disputed"] = bad_bool
    disputed = disputed | (
        tbl.col("disputed").eq("").to_numpy(bool) & dates["dispute_date"].notna().to_numpy(bool)
    )
    typed = pd.DataFrame(
        {
            "invoice_id": blank_as_na(tbl.text["invoice_id"]).reset_index(drop=True),
            "customer_id": blank_as_na(tbl.text["customer_id"]).reset_index(drop=True),
            "document_type": doc.astype(str),
            "amount": amount,
            "currency": currency.astype(str),
            **dates,
        }
    )
    return typed, disputed


def _sign_rule(kind: str, wrong: Callable[[pd.Series], pd.Series]) -> Callable:
    def check(df: pd.DataFrame) -> pd.Series:
        return ~((df["document_type"] == kind) & wrong(df["amount"]).fillna(False))

    return check


def _invoice_rules(customer_ids: pd.Index | None) -> tuple[dict[str, list[Check]], list[Check]]:
    """(column checks, frame checks) of the invoices table."""
    customer_checks: list[Check] = []
    if customer_ids is not None:
        customer_checks.append(("unknown_customer", is_in(customer_ids)))
    column_checks: dict[str, list[Check]] = {
        "invoice_id": [("duplicate_invoice_id", not_dup)],
        "customer_id": customer_checks,
        "document_type": [("unknown_document_type", is_in(DOCUMENT_TYPES))],
        "currency": [
            (
                "invalid_currency",
                lambda s: s.str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool),
            )
        ],
        "amount": [
            ("zero_amount", lambda s: ~(s == 0)),
            ("amount_out_of_range", _within_max_amount),
        ],
        "invoice_date": [],
        "due_date": [],
    }
    frame_checks: list[Check] = [
        ("negative_amount_on_invoice", _sign_rule("invoice", lambda a: a < 0)),
        ("positive_amount_on_credit_note", _sign_rule("credit_note", lambda a: a > 0)),
        ("due_before_invoice", not_before("due_date", "invoice_date")),
        ("paid_before_invoice", not_before("paid_date", "invoice_date")),
        ("dispute_before_invoice", not_before("dispute_date", "invoice_date")),
        ("writeoff_before_invoice", not_before("written_off_date", "invoice_date")),
    ]
    return column_checks, frame_checks


def validate_invoices(
    tbl: PreparedTable, customer_ids: pd.Index | None, default_currency: str, notes: list[str]
) -> Outcome:
    """Validate the invoices table (``customer_ids``: accepted customers, None = no check)."""
    masks = base_masks(tbl, INVOICE_REQUIRED)
    dates = add_dates(tbl, DATE_COLUMNS["invoices"], masks)
    nums = add_numbers(tbl, ("amount", "paid_amount"), masks, notes)
    amount = nums["amount"]
    typed, disputed = _invoice_fields(tbl, amount, dates, default_currency, masks)
    masks.update(
        run_rules(
            "invoices",
            typed,
            *_invoice_rules(customer_ids),
            {"amount": "float64", "invoice_date": DATE_DTYPE, "due_date": DATE_DTYPE},
        )
    )
    paid_far = ~_within_max_amount(nums["paid_amount"]).to_numpy(bool)
    if paid_far.any():  # the same bound on the paid amount
        masks["amount_out_of_range"] = masks.get("amount_out_of_range", paid_far) | paid_far
    clean = pd.DataFrame(
        {
            "invoice_id": typed["invoice_id"].astype(str),
            "customer_id": typed["customer_id"].astype(str),
            "document_type": typed["document_type"],
            "invoice_date": dates["invoice_date"],
            "due_date": dates["due_date"],
            "amount": amount,
            "currency": typed["currency"],
            "paid_date": dates["paid_date"],
            "paid_amount": nums["paid_amount"],
            "disputed": pd.Series(disputed, dtype=bool),
            "dispute_date": dates["dispute_date"],
            "written_off_date": dates["written_off_date"],
        }
    )
    return finish_table(tbl, masks, clean)


def _invoice_links(invoices: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """customer_id and invoice_date per accepted invoice_id."""
    idx = pd.Index(invoices["invoice_id"].astype(object))
    return (
        pd.Series(invoices["customer_id"].to_numpy(object), index=idx),
        pd.Series(invoices["invoice_date"].to_numpy(), index=idx),
    )


def _coalesce(first: pd.Series, *others: pd.Series | str) -> pd.Series:
    """First non-missing value per row (object dtype; no silent downcasting)."""
    out = first.to_numpy(dtype=object)
    for other in others:
        fill = other.to_numpy(dtype=object) if isinstance(other, pd.Series) else other
        out = np.where(pd.isna(out), fill, out)
    return pd.Series(out, dtype=object)


def _linked_customer(tbl: PreparedTable, inv_customer: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(given customer_id or NA, customer_id of the referenced invoice or NA)."""
    given = blank_as_na(tbl.col("customer_id")).reset_index(drop=True).astype(object)
    via = pd.Series(tbl.text["invoice_id"].map(inv_customer).to_numpy(object), dtype=object)
    return given, via


def _mismatch_check(df: pd.DataFrame) -> pd.Series:
    both = df["customer_id"].notna() & df["invoice_customer"].notna()
    return ~(both & (df["customer_id"] != df["invoice_customer"]))


def validate_payments(tbl: PreparedTable, invoices: pd.DataFrame, notes: list[str]) -> Outcome:
    """Validate the payments table against the accepted invoices."""
    masks = base_masks(tbl, PAYMENT_REQUIRED)
    dates = add_dates(tbl, ("payment_date",), masks)
    nums = add_numbers(tbl, ("amount",), masks, notes)
    inv_customer, inv_date = _invoice_links(invoices)
    given, via = _linked_customer(tbl, inv_customer)
    payment_id = blank_as_na(tbl.col("payment_id")).reset_index(drop=True).astype(object)
    typed = pd.DataFrame(
        {
            "payment_id": payment_id,
            "invoice_id": blank_as_na(tbl.text["invoice_id"])
            .reset_index(drop=True)
            .astype(object),
            "customer_id": given,
            "invoice_customer": via,
            "payment_date": dates["payment_date"],
            "invoice_date": pd.Series(
                tbl.text["invoice_id"].map(inv_date).to_numpy(), dtype=DATE_DTYPE
            ),
            "amount": nums["amount"],
        }
    )
    masks.update(
        run_rules(
            "payments",
            typed,
            {
                "payment_id": [("duplicate_payment_id", not_dup)],
                "invoice_id": [("unknown_invoice", is_in(inv_customer.index))],
                "amount": [
                    ("non_positive_amount", lambda s: ~(s <= 0)),
                    ("amount_out_of_range", _within_max_amount),
                ],
            },
            [
                ("customer_mismatch", _mismatch_check),
                ("payment_before_invoice", not_before("payment_date", "invoice_date")),
            ],
            {"amount": "float64"},
        )
    )
    generated = pd.Series([f"{tbl.name}-row-{r}" for r in tbl.rows], dtype=object)
    clean = pd.DataFrame(
        {
            "payment_id": _coalesce(payment_id, generated).astype(str),
            "invoice_id": tbl.text["invoice_id"].reset_index(drop=True).astype(str),
            "customer_id": _coalesce(given, via, "").astype(str),
            "payment_date": dates["payment_date"],
            "amount": nums["amount"],
        }
    )
    if not tbl.has("payment_id"):
        notes.append("payments: no payment_id column: ids generated as payments-row-<line>")
    return finish_table(tbl, masks, clean)


def validate_reminders(tbl: PreparedTable, invoices: pd.DataFrame, notes: list[str]) -> Outcome:
    """Validate the reminders table against the accepted invoices."""
    masks = base_masks(tbl, REMINDER_REQUIRED)
    dates = add_dates(tbl, ("sent_date",), masks)
    nums = add_numbers(tbl, ("propensity",), masks, notes)
    inv_customer, _ = _invoice_links(invoices)
    given, via = _linked_customer(tbl, inv_customer)
    channel = tbl.text["channel"].str.lower().str.replace(r"[\s\-_]+", "", regex=True)
    channel = blank_as_na(channel).reset_index(drop=True).astype(object)
    typed = pd.DataFrame(
        {
            "invoice_id": blank_as_na(tbl.text["invoice_id"])
            .reset_index(drop=True)
            .astype(object),
            "customer_id": given,
            "invoice_customer": via,
            "channel": channel,
        }
    )
    masks.update(
        run_rules(
            "reminders",
            typed,
            {
                "invoice_id": [("unknown_invoice", is_in(inv_customer.index))],
                "channel": [("unknown_channel", is_in(CHANNELS))],
            },
            [("customer_mismatch", _mismatch_check)],
        )
    )
    clean = pd.DataFrame(
        {
            "invoice_id": tbl.text["invoice_id"].reset_index(drop=True).astype(str),
            "customer_id": _coalesce(given, via, "").astype(str),
            "sent_date": dates["sent_date"],
            "channel": _coalesce(channel, "").astype(str),
            "outcome": str_col(tbl.col("outcome")),
            "tone": str_col(tbl.col("tone")),
            "propensity": nums["propensity"],
        }
    )
    return finish_table(tbl, masks, clean)
