"""Online features: the batch definitions (:mod:`.batch`) over in-memory records, for the API.

:func:`compute_online` takes 1 to ~1,000 customers, each carrying its own invoices, payments
and reminders (the API's pydantic models pass as they are: only attributes are read), and
returns exactly the features :func:`payer_model.features.batch.build_features` computes at
one cutoff, without SQL planning and without pandas. All customers of a request are
flattened once into numpy arrays (one row per invoice, ``g`` = the customer's position) and
every feature is a handful of vectorised group reductions, so a request costs a fixed few
hundred microseconds plus a few microseconds per invoice.

Semantics are those of the batch SQL, as of T (start of day): an invoice exists at T if
``invoice_date < T``, is paid only if ``paid_date < T``, and disputes, write-offs, partial
payments and reminders count only if dated before T. Credit notes (``document_type ==
'credit_note'`` or a negative amount) are ignored; ``document_type=None`` is an invoice.
Payments and reminders join the customer's own invoices by ``invoice_id``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Protocol

import numpy as np

from payer_model.config import LabelConfig
from payer_model.features.block import FeatureBlock
from payer_model.features.definitions import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from payer_model.features.online_labels import (
    NEVER,
    Flat,
    exposure,
    group_count,
    group_last_mean,
    group_max,
    group_mean,
    group_min,
    group_quantiles,
    group_sum,
    previous_label,
    ratio,
    reminders,
)

__all__ = [
    "CustomerLike",
    "CustomerRecord",
    "InvoiceLike",
    "InvoiceRecord",
    "OnlineFeatures",
    "PaymentLike",
    "PaymentRecord",
    "ReminderLike",
    "ReminderRecord",
    "compute_online",
    "customers_from_tables",
]


# ------------------------------------------------------------------------------ input types


class InvoiceLike(Protocol):
    """An invoice or credit note (``document_type`` None means ``'invoice'``)."""

    invoice_id: str
    invoice_date: date
    due_date: date
    amount: float
    document_type: str | None
    paid_date: date | None
    disputed: bool | None
    dispute_date: date | None
    written_off_date: date | None


class PaymentLike(Protocol):
    """A (partial) payment of one invoice."""

    invoice_id: str
    payment_date: date
    amount: float


class ReminderLike(Protocol):
    """A reminder sent about one invoice."""

    invoice_id: str
    sent_date: date


class CustomerLike(Protocol):
    """A customer with its whole history."""

    customer_id: str
    customer_type: str | None
    industry: str | None
    country: str | None
    payment_terms_days: float | None
    credit_limit: float | None
    created_date: date | None
    invoices: Sequence[InvoiceLike]
    payments: Sequence[PaymentLike]
    reminders: Sequence[ReminderLike]


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """Plain :class:`InvoiceLike`."""

    invoice_id: str
    invoice_date: date
    due_date: date
    amount: float
    document_type: str | None = None
    paid_date: date | None = None
    disputed: bool | None = None
    dispute_date: date | None = None
    written_off_date: date | None = None


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """Plain :class:`PaymentLike`."""

    invoice_id: str
    payment_date: date
    amount: float


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    """Plain :class:`ReminderLike`."""

    invoice_id: str
    sent_date: date


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """Plain :class:`CustomerLike`."""

    customer_id: str
    customer_type: str | None = None
    industry: str | None = None
    country: str | None = None
    payment_terms_days: float | None = None
    credit_limit: float | None = None
    created_date: date | None = None
    invoices: tuple[InvoiceRecord, ...] = ()
    payments: tuple[PaymentRecord, ...] = ()
    reminders: tuple[ReminderRecord, ...] = ()


# ------------------------------------------------------------------------------ the result


@dataclass(frozen=True)
class OnlineFeatures:
    """Features of the customers that have a row (an invoice before T), in input order."""

    as_of: date
    customer_ids: list[str]
    numeric: np.ndarray
    """float64, ``len(customer_ids) x len(NUMERIC_FEATURES)``, NaN where batch gives NULL."""
    categorical: dict[str, list[str]]
    """``CATEGORICAL_FEATURES`` name -> one value per customer."""

    def __len__(self) -> int:
        return len(self.customer_ids)

    def block(self) -> FeatureBlock:
        """The features as a :class:`FeatureBlock` (``FEATURE_COLUMNS``; no pandas, no copy)."""
        n = len(self.customer_ids)
        cols: dict[str, np.ndarray] = {
            "customer_id": np.asarray(self.customer_ids, dtype=object),
            "as_of": np.full(n, np.datetime64(self.as_of, "us")),
        }
        numeric = self.numeric.reshape(n, len(NUMERIC_FEATURES))
        cols.update((name, numeric[:, k]) for k, name in enumerate(NUMERIC_FEATURES))
        cols.update(
            (c, np.asarray(self.categorical[c], dtype=object)) for c in CATEGORICAL_FEATURES
        )
        return FeatureBlock(cols)

    def to_frame(self):
        """The batch frame layout and dtypes (``FEATURE_COLUMNS``), rows in input order."""
        import pandas as pd

        n = len(self.customer_ids)
        out = pd.DataFrame(
            {
                "customer_id": pd.Series(self.customer_ids, dtype=object).astype(str),
                "as_of": pd.Series(np.full(n, np.datetime64(self.as_of, "us"))),
            }
        )
        numeric = pd.DataFrame(self.numeric.reshape(n, len(NUMERIC_FEATURES)))
        numeric.columns = list(NUMERIC_FEATURES)
        cats = pd.DataFrame({c: self.categorical[c] for c in CATEGORICAL_FEATURES}, dtype=object)
        return pd.concat([out, numeric, cats.astype(str)], axis=1)


# ------------------------------------------------------------------------------ flattening

_INVOICE_FIELDS = tuple(x.name for x in fields(InvoiceRecord))
_CUSTOMER_FIELDS = tuple(x.name for x in fields(CustomerRecord))[1:7]
_DATES = ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date")


def _days(values: Sequence[Any]) -> np.ndarray:
    """Dates (or datetimes: their day) as int64 day numbers; None -> NEVER."""
    return np.array([NEVER if d is None else d.toordinal() for d in values], dtype=np.int64)


def _col(objs: list, name: str) -> list:
    return list(map(attrgetter(name), objs))


def _events(customers: Sequence[CustomerLike], starts: list[int], ids: list) -> tuple:
    """Payments and reminders of all customers, each with its invoice row (-1: unknown)."""
    pays: list = []
    rems: list = []
    pay_rows: list[int] = []
    rem_rows: list[int] = []
    ends = [*starts[1:], len(ids)] if starts else []
    for c, start, end in zip(customers, starts, ends, strict=True):
        if not (c.payments or c.reminders):
            continue
        where = dict(zip(map(str, ids[start:end]), range(start, end), strict=True))
        pays.extend(c.payments)
        pay_rows.extend([where.get(str(x), -1) for x in _col(c.payments, "invoice_id")])
        rems.extend(c.reminders)
        rem_rows.extend([where.get(str(x), -1) for x in _col(c.reminders, "invoice_id")])
    return pays, np.array(pay_rows, dtype=np.int64), rems, np.array(rem_rows, dtype=np.int64)


def _flatten(customers: Sequence[CustomerLike]) -> Flat:
    # column lists straight from the objects: no per-row tuples (allocations wake the GC)
    objs: list = []
    sizes: list[int] = []
    starts: list[int] = []
    for c in customers:
        starts.append(len(objs))
        objs.extend(c.invoices)
        sizes.append(len(objs) - starts[-1])
    ids = _col(objs, "invoice_id")
    pays, pay_i, rems, rem_i = _events(customers, starts, ids)
    amt = np.array(_col(objs, "amount"), dtype=np.float64)
    real = ~((np.array(_col(objs, "document_type"), dtype=object) == "credit_note") | (amt < 0))
    row = np.cumsum(real) - 1  # position of each invoice among the real ones
    inv = {k: _days(_col(objs, k))[real] for k in _DATES}
    inv["amount"] = amt[real]
    pay_ok, rem_ok = pay_i >= 0, rem_i >= 0
    pay_ok[pay_ok] = real[pay_i[pay_ok]]
    rem_ok[rem_ok] = real[rem_i[rem_ok]]
    return Flat(
        n=len(customers),
        g=np.repeat(np.arange(len(customers)), sizes)[real],
        inv=inv,
        disputed=np.equal(np.array(_col(objs, "disputed"), dtype=object), True)[real],
        ids=np.array(ids, dtype=object)[real],
        pay_i=row[pay_i[pay_ok]],
        pay_d=_days(_col(pays, "payment_date"))[pay_ok],
        pay_a=np.array(_col(pays, "amount"), dtype=np.float64)[pay_ok],
        rem_i=row[rem_i[rem_ok]],
        rem_d=_days(_col(rems, "sent_date"))[rem_ok],
    )


# ------------------------------------------------------------------------------ features


def _lifetime(f: Flat, t: int) -> dict[str, np.ndarray]:
    """Lifetime history: paid before T, invoiced before T, disputes and write-offs."""
    g, n, inv = f.g, f.n, f.inv
    paid, due, day, amt = inv["paid_date"], inv["due_date"], inv["invoice_date"], inv["amount"]
    p = paid < t
    late = (paid - due).astype(np.float64)
    paid_n = group_count(g, p, n)
    paid_amt = group_sum(g, amt, p, n)
    e = day < t
    inv_n = group_count(g, e, n)
    wo = inv["written_off_date"] < t
    disputes_n = group_count(g, inv["dispute_date"] < t, n)
    return {
        "paid_n": paid_n,
        "paid_amt": paid_amt,
        "wmean_days_late": ratio(group_sum(g, amt * late, p, n), paid_amt),
        "wmean_days_to_pay": ratio(group_sum(g, amt * (paid - day), p, n), paid_amt),
        "share_late_0": ratio(group_count(g, p & (late > 0), n), paid_n),
        "share_late_15": ratio(group_count(g, p & (late > 15), n), paid_n),
        "share_late_30": ratio(group_count(g, p & (late > 30), n), paid_n),
        "max_days_late": group_max(g, late, p, n),
        "days_since_last_invoice": t - group_max(g, day, e, n),
        "days_since_last_payment": t - group_max(g, paid, p, n),
        "inv_n": inv_n,
        "mean_invoice_amt": ratio(group_sum(g, amt, e, n), inv_n),
        "disputes_n": disputes_n,
        "dispute_rate": ratio(disputes_n, inv_n),
        "writeoffs_n": group_count(g, wo, n),
        "writeoff_amt": group_sum(g, amt, wo, n),
        "_first_inv": group_min(g, day, e, n),
        "_terms": ratio(group_sum(g, (due - day).astype(np.float64), e, n), inv_n),
    }


def _window(f: Flat, t: int, window: int, trend: int) -> dict[str, np.ndarray]:
    """Bounded-window payment statistics, recent trends and invoicing activity."""
    g, n, inv = f.g, f.n, f.inv
    paid, amt, day = inv["paid_date"], inv["amount"], inv["invoice_date"]
    dl = (paid - inv["due_date"]).astype(np.float64)
    w = (paid < t) & (paid >= t - window)
    recent = w & (paid >= t - trend)
    prior = w & (paid < t - trend) & (paid >= t - 2 * trend)
    median, p90 = group_quantiles(g[w], dl[w], n, (0.5, 0.9))
    m90, mprev = group_mean(g, dl, recent, n), group_mean(g, dl, prior, n)
    iw = (day < t) & (day >= t - window)
    inv90 = group_count(g, iw & (day >= t - trend), n)
    invprev = group_count(g, iw & (day < t - trend) & (day >= t - 2 * trend), n)
    return {
        "paid_n_12m": group_count(g, w, n),
        "wmean_days_late_12m": ratio(group_sum(g, amt * dl, w, n), group_sum(g, amt, w, n)),
        "median_days_late_12m": median,
        "p90_days_late_12m": p90,
        "max_days_late_12m": group_max(g, dl, w, n),
        "last5_mean_days_late": group_last_mean(g[w], paid[w], f.ids[w], dl[w], n),
        "mean_days_late_90d": m90,
        "mean_days_late_prev90d": mprev,
        "trend_days_late": m90 - mprev,
        "inv_n_90d": inv90,
        "inv_n_prev90d": invprev,
        "inv_trend": (inv90 - invprev) / (inv90 + invprev + 1.0),
        "billed_12m": group_sum(g, amt, iw, n),
    }


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _static(customers: Sequence[CustomerLike], life: dict[str, np.ndarray], t: int, open_amt):
    """Customer attributes: terms, credit limit, tenure and the categoricals."""
    terms = np.array([math.nan if _missing(c.payment_terms_days) else c.payment_terms_days
                      for c in customers], dtype=np.float64)  # fmt: skip
    limit = np.array([math.nan if _missing(c.credit_limit) else c.credit_limit
                      for c in customers], dtype=np.float64)  # fmt: skip
    created = _days([c.created_date for c in customers]).astype(np.float64)
    numeric = {
        "payment_terms_days": np.where(np.isnan(terms), life["_terms"], terms),
        "credit_limit": limit,
        "credit_utilisation": ratio(open_amt, limit),
        "tenure_days": t - np.fmin(created, life["_first_inv"]),
    }
    cats = {
        "customer_type": [_text(c.customer_type, "company").lower() for c in customers],
        "industry": [_text(c.industry, "unknown") for c in customers],
        "country": [_text(c.country, "unknown") for c in customers],
    }
    return numeric, cats


def _text(v: Any, default: str) -> str:
    return default if _missing(v) else str(v)


def compute_online(
    customers: Sequence[CustomerLike],
    as_of: date,
    *,
    window_days: int = 365,
    trend_days: int = 90,
    labels: LabelConfig | None = None,
) -> OnlineFeatures:
    """Features of in-memory customers as of one cutoff, equal to ``build_features``.

    Args:
        customers: customers with their invoices, payments and reminders (any objects with
            the attributes of :class:`CustomerLike`, e.g. the API's pydantic models).
        as_of: the cutoff T (start of day; events dated T or later are unknown).
        window_days: bounded window for quantiles and 12-month statistics.
        trend_days: length of the recent and prior windows of the trend features.
        labels: label definition for last period's label (defaults when None).

    Returns:
        The features of the customers with an invoice before T, in input order.
    """
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    t = int(_days([day])[0])
    f = _flatten(customers)
    life = _lifetime(f, t)
    cols = {**life, **_window(f, t, window_days, trend_days), **exposure(f, t)}
    cols.update(reminders(f, t, window_days, cols["paid_n_12m"]))
    prev, prev_names = previous_label(f, t, labels or LabelConfig())
    static, cats = _static(customers, life, t, cols["open_amt"])
    cols.update(prev)
    cols.update(static)
    cats["prev_label"] = prev_names
    keep = np.flatnonzero(life["inv_n"] > 0)
    numeric = np.column_stack([cols[c] for c in NUMERIC_FEATURES])[keep]
    return OnlineFeatures(
        as_of=day,
        customer_ids=[str(customers[i].customer_id) for i in keep.tolist()],
        numeric=numeric,
        categorical={c: [cats[c][i] for i in keep.tolist()] for c in CATEGORICAL_FEATURES},
    )


# ------------------------------------------------------------------------------ from tables

_KIND = {"amount": "float", "payment_terms_days": "float", "credit_limit": "float"}
_KIND |= {"disputed": "bool"} | dict.fromkeys(
    (*_DATES, "payment_date", "sent_date", "created_date"), "date"
)


def _rows(df, names: Sequence[str]) -> list[tuple]:
    """Rows of a contract table as Python values (None for missing or absent columns)."""
    import pandas as pd

    if df is None or len(df) == 0:
        return []
    cols = []
    for name in names:
        if name not in df:
            cols.append([None] * len(df))
            continue
        s = pd.to_datetime(df[name]).dt.date if _KIND.get(name) == "date" else df[name]
        vals = s.astype(object).where(s.notna(), None).tolist()
        cast = {"float": float, "bool": bool, "date": None}.get(_KIND.get(name, ""), str)
        cols.append(vals if cast is None else [None if v is None else cast(v) for v in vals])
    return list(zip(*cols, strict=True))


def customers_from_tables(invoices, customers=None, payments=None, reminders=None):
    """Contract tables (pandas) as :class:`CustomerRecord` s, for tests and batch conversions.

    Customers of the customers table come first, in its order, then customers that only
    appear on invoices (with no attributes, as batch's left join gives them). Payments and
    reminders go to the customer owning their invoice, as batch joins them by invoice_id.

    Returns:
        list[CustomerRecord]
    """
    by_cust: dict[str, list[InvoiceRecord]] = {}
    owner: dict[str, str] = {}
    for cid, *values in _rows(invoices, ("customer_id", *_INVOICE_FIELDS)):
        by_cust.setdefault(cid, []).append(InvoiceRecord(*values))
        owner.setdefault(values[0], cid)
    events: dict[tuple[str, str], list] = {}
    for kind, df, make in (("p", payments, PaymentRecord), ("r", reminders, ReminderRecord)):
        names = [x.name for x in fields(make)]
        for values in _rows(df, names):
            if (cid := owner.get(values[0])) is not None:
                events.setdefault((kind, cid), []).append(make(*values))
    attrs = {r[0]: r[1:] for r in _rows(customers, ("customer_id", *_CUSTOMER_FIELDS))}
    return [
        CustomerRecord(
            cid,
            *attrs.get(cid, (None,) * len(_CUSTOMER_FIELDS)),
            invoices=tuple(by_cust.get(cid, ())),
            payments=tuple(events.get(("p", cid), ())),
            reminders=tuple(events.get(("r", cid), ())),
        )
        for cid in dict.fromkeys([*attrs, *by_cust])
    ]
