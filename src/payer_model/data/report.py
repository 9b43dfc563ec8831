"""Result types of the data contract and the importers: reasons, reports, error, dataset.

Kept apart from the readers and the rules so that every layer (reading, validating,
quarantining, importing) can raise :class:`ContractError` and fill a
:class:`ValidationReport` without importing the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from payer_model.data.schema import CHANNELS, CUSTOMER_TYPES, DOCUMENT_TYPES

__all__ = [
    "REASONS",
    "ContractError",
    "Dataset",
    "ImportReport",
    "ValidatedFrames",
    "ValidationReport",
]

REASONS: dict[str, str] = {
    "missing_value:<col>": "a required value is empty",
    "unparseable_date:<col>": "not a year-first date (yyyy-mm-dd, yyyymmdd, optional time)",
    "date_out_of_range:<col>": "a date before 1990-01-01 or more than a year after today",
    "date_out_of_range": "a date before 1990-01-01 or more than a year after today",
    "amount_out_of_range": "an amount beyond 1e12 in absolute value (not a real amount)",
    "unparseable_number:<col>": "not a number (or an ambiguous 1,234 / 1.234 in a mixed file)",
    "wrong_field_count": "the CSV line has more or fewer fields than the header",
    "zero_amount": "invoice or credit-note amount is 0",
    "negative_amount_on_invoice": "document_type is 'invoice' but the amount is negative",
    "positive_amount_on_credit_note": "document_type is 'credit_note' but the amount is positive",
    "unknown_document_type": f"document_type not one of {', '.join(DOCUMENT_TYPES)}",
    "invalid_currency": "currency is not a three-letter code",
    "bad_boolean:disputed": "disputed is not true/false/yes/no/y/n/1/0",
    "due_before_invoice": "due_date earlier than invoice_date",
    "paid_before_invoice": "paid_date earlier than invoice_date",
    "dispute_before_invoice": "dispute_date earlier than invoice_date",
    "writeoff_before_invoice": "written_off_date earlier than invoice_date",
    "duplicate_invoice_id": "invoice_id seen on an earlier row (the first one is kept)",
    "unknown_customer": "customer_id not among the accepted rows of the customers table",
    "duplicate_customer_id": "customer_id seen on an earlier row (the first one is kept)",
    "unknown_customer_type": f"customer_type not one of {', '.join(CUSTOMER_TYPES)}",
    "negative_credit_limit": "credit_limit below 0",
    "negative_payment_terms": "payment_terms_days below 0",
    "unknown_invoice": "invoice_id not among the accepted invoice rows",
    "customer_mismatch": "customer_id differs from the customer of the invoice",
    "non_positive_amount": "payment amount is 0 or negative",
    "payment_before_invoice": "payment_date earlier than the invoice's invoice_date",
    "duplicate_payment_id": "payment_id seen on an earlier row (the first one is kept)",
    "unknown_channel": f"channel not one of {', '.join(CHANNELS)}",
}
"""Every reason code with a plain-words meaning (``<col>`` is the column name)."""


class ContractError(Exception):
    """A file-level problem, or too many bad rows; ``str(e)`` is one human-readable line.

    Attributes:
        report: The validation report when the rows were read (bad-share limit), else None.
    """

    def __init__(self, message: str, *, report: ValidationReport | None = None) -> None:
        super().__init__(" ".join(str(message).split()))
        self.report = report


@dataclass
class ValidationReport:
    """Counts and notes of one validation run.

    ``rows_in`` counts source rows, ``rows_out`` rows in the validated table, ``quarantined``
    bad rows, ``derived`` rows made up by the loader (customers derived from invoices when
    the customers table is absent or empty). For every table:
    ``rows_in + derived == rows_out + quarantined``.
    """

    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quarantine_files: dict[str, str] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def bad_share(self, table: str = "invoices") -> float:
        """Share of a table's source rows that were quarantined (0.0 for an empty table)."""
        n = self.rows_in.get(table, 0)
        return self.quarantined.get(table, 0) / n if n else 0.0

    def top_reasons(self, table: str = "invoices", k: int = 3) -> list[tuple[str, int]]:
        """The ``k`` most frequent reasons of a table, as (reason, rows), largest first."""
        prefix = f"{table}:"
        items = [(r[len(prefix) :], n) for r, n in self.reasons.items() if r.startswith(prefix)]
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:k]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the report, with the bad share per table added."""
        out = asdict(self)
        out["bad_share"] = {t: round(self.bad_share(t), 6) for t in self.rows_in}
        return out


@dataclass
class Dataset:
    """The validated tables of one data folder (see the module docstring for dtypes)."""

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    reminders: pd.DataFrame
    report: ValidationReport
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name."""
        return {
            "customers": self.customers,
            "invoices": self.invoices,
            "payments": self.payments,
            "reminders": self.reminders,
        }


class ValidatedFrames(NamedTuple):
    """Result of :func:`validate_frames`: clean tables, quarantined rows, report."""

    tables: dict[str, pd.DataFrame]
    """All four tables, always present (empty frames with the right columns if absent)."""
    quarantine: dict[str, pd.DataFrame]
    """Only the tables that have bad rows: original values as strings + ``_row``, ``_reason``."""
    report: ValidationReport

    def to_dataset(self) -> Dataset:
        """The same content as a :class:`Dataset`."""
        t = self.tables
        return Dataset(
            t["customers"],
            t["invoices"],
            t["payments"],
            t["reminders"],
            self.report,
            dict(self.quarantine),
        )


@dataclass
class ImportReport:
    """Counts and notes of one import.

    Per table: ``rows_in + derived == rows_out + quarantined + duplicates``. ``reasons``
    counts quarantined rows per ``table:reason`` (import-stage and contract reasons alike).
    """

    source: str
    mapping: str
    out_dir: str
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def bad_share(self, table: str = "invoices") -> float:
        """Share of a table's source rows that were quarantined."""
        n = self.rows_in.get(table, 0)
        return self.quarantined.get(table, 0) / n if n else 0.0

    def lines(self) -> list[str]:
        """The report as readable lines (counts, then reasons, then notes)."""
        out = []
        for t in ("invoices", "customers"):
            if t not in self.rows_in:
                continue
            out.append(
                f"{t}: {self.rows_in[t]:,} rows in, {self.rows_out[t]:,} out, "
                f"{self.quarantined[t]:,} quarantined, {self.duplicates.get(t, 0):,} duplicates"
                + (f", {self.derived[t]:,} derived" if self.derived.get(t) else "")
            )
        for t in ("invoices", "customers"):
            dups, kept = self.duplicates.get(t, 0), self.rows_out.get(t, 0)
            if dups and dups >= kept:
                out.append(
                    f"warning: {dups:,} of the {self.rows_in.get(t, 0):,} {t} rows are exact "
                    f"duplicates of an earlier row; only {kept:,} distinct row(s) left: "
                    "check the export (a repeated page or join?)"
                )
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"quarantined {reason}: {n:,}")
        out.extend(f"note: {n}" for n in self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["bad_share"] = {t: round(self.bad_share(t), 6) for t in self.rows_in}
        return out
