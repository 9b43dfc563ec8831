"""The as-of rules, written once: what is known at a cutoff T, and which invoices are open.

T is the start of a day: an event dated T or later is unknown at T. An invoice is **open at
T** when it exists before T (``invoice_date < T``) and was neither paid nor written off
before T — so an invoice paid on or after T is open at T. The DuckDB/Spark feature SQL
renders :func:`open_at_sql`; the policy engine calls
:func:`is_open_at` (one invoice) or :func:`open_mask` (a frame); the online engine applies
the same comparison on arrays (held equal by its parity tests). A unit test holds the three
forms equal.
"""

from __future__ import annotations

from datetime import date
from typing import Any

FAR_FUTURE = "9999-12-31"


def known_at(event_date: date | None, t: date) -> bool:
    """True when an event dated ``event_date`` is known at the start of day ``t``."""
    return event_date is not None and event_date < t


def is_open_at(
    invoice_date: date, paid_date: date | None, written_off_date: date | None, t: date
) -> bool:
    """True when one invoice is open at ``t`` (issued before, not settled before)."""
    return invoice_date < t and not known_at(paid_date, t) and not known_at(written_off_date, t)


def open_at_sql(alias: str, t: str) -> str:
    """The SQL predicate of :func:`is_open_at` for invoice rows ``alias`` and cutoff ``t``."""
    return (
        f"{alias}.invoice_date < {t} AND coalesce(least({alias}.paid_date, "
        f"{alias}.written_off_date), DATE '{FAR_FUTURE}') >= {t}"
    )


def open_mask(invoices: Any, t: Any) -> Any:
    """Boolean Series: which rows of an invoice frame are open at ``t`` (pandas)."""
    import pandas as pd

    t = pd.Timestamp(t).normalize()
    keep = pd.to_datetime(invoices["invoice_date"]) < t
    for col in ("paid_date", "written_off_date"):
        if col in invoices.columns:
            d = pd.to_datetime(invoices[col])
            keep &= d.isna() | (d >= t)
    return keep
