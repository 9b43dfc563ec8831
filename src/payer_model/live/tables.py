"""Ledger rows as contract tables: the columns and dtypes the contract loader gives.

The batch features, the online features and the policy engine all read contract tables;
the ledger hands its rows over in exactly that shape (``schema.TABLE_COLUMNS``, dates
``datetime64[us]``, money ``float64``), so each of them runs unchanged on the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import DATE_COLUMNS, DATE_DTYPE, TABLE_COLUMNS
from payer_model.features.online import (
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    ReminderRecord,
)

NAT = np.datetime64("NaT")
_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
_FLOATS = frozenset({"amount", "paid_amount", "payment_terms_days", "credit_limit"})


def _column(name: str, kind: str, values: list[Any]) -> Any:
    if kind == "date":
        return np.array([NAT if v is None else v for v in values], dtype="datetime64[D]").astype(
            DATE_DTYPE
        )
    if kind == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "bool":
        return np.array([bool(v) for v in values], dtype=bool)
    # the contract's text dtype: pandas' default string dtype (str on pandas 3)
    return pd.array(values, dtype="str") if _PANDAS_3 else np.array(values, dtype=object)


def contract_frame(name: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One contract table from row dicts (extra keys dropped, missing columns empty)."""
    return frame_from_columns(name, {c: [r.get(c) for r in rows] for c in TABLE_COLUMNS[name]})


def frame_from_columns(name: str, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """One contract table from lists per column (extra columns dropped, missing ones empty)."""
    cols = TABLE_COLUMNS[name]
    n = len(next(iter(columns.values()))) if columns else 0
    kinds = {c: "date" if c in DATE_COLUMNS[name] else "float" if c in _FLOATS else
             "bool" if c == "disputed" else "text" for c in cols}  # fmt: skip
    return pd.DataFrame(
        {c: _column(c, kinds[c], list(columns.get(c, [None] * n))) for c in cols},
        columns=list(cols),
    )


def contract_frames(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, pd.DataFrame]:
    """The four contract tables from rows per table name."""
    return {name: contract_frame(name, data.get(name, ())) for name in TABLE_COLUMNS}


def frames_from_columns(
    data: Mapping[str, Mapping[str, Sequence[Any]]],
) -> dict[str, pd.DataFrame]:
    """The four contract tables from lists per column per table name."""
    return {name: frame_from_columns(name, data.get(name, {})) for name in TABLE_COLUMNS}


def _as_columns(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, list]:
    return {c: [r.get(c) for r in rows] for c in names}


def records_from_rows(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[CustomerRecord]:
    """Ledger rows as the online path's :class:`CustomerRecord` s, without pandas.

    The same records :func:`payer_model.features.online.customers_from_tables` builds from
    the contract frames (customers of the customers rows first, then invoice-only ones;
    payments and reminders go to the customer owning their invoice).
    """
    return records_from_columns(
        {name: _as_columns(data.get(name, ()), TABLE_COLUMNS[name]) for name in TABLE_COLUMNS}
    )


def records_from_columns(data: Mapping[str, Mapping[str, Sequence[Any]]]) -> list[CustomerRecord]:
    """:func:`records_from_rows` from lists per column per table (:meth:`LedgerStore.columns`)."""
    by_cust: dict[str, list[InvoiceRecord]] = {}
    owner: dict[str, str] = {}
    inv = data.get("invoices") or {}
    if inv.get("invoice_id"):
        for i, c, idate, due, amt, doc, paid, disp, ddate, wo in zip(
            inv["invoice_id"], inv["customer_id"], inv["invoice_date"], inv["due_date"],
            inv["amount"], inv["document_type"], inv["paid_date"], inv["disputed"],
            inv["dispute_date"], inv["written_off_date"], strict=True,
        ):  # fmt: skip
            cid, iid = str(c), str(i)
            by_cust.setdefault(cid, []).append(
                InvoiceRecord(iid, idate, due, float(amt), doc, paid, bool(disp), ddate, wo)
            )
            owner.setdefault(iid, cid)
    pays: dict[str, list[PaymentRecord]] = {}
    pay = data.get("payments") or {}
    for iid, pdate, amt in zip(pay.get("invoice_id", ()), pay.get("payment_date", ()),
                               pay.get("amount", ()), strict=True):  # fmt: skip
        if (cid := owner.get(str(iid))) is not None:
            pays.setdefault(cid, []).append(PaymentRecord(str(iid), pdate, float(amt)))
    rems: dict[str, list[ReminderRecord]] = {}
    rem = data.get("reminders") or {}
    for iid, sdate in zip(rem.get("invoice_id", ()), rem.get("sent_date", ()), strict=True):
        if (cid := owner.get(str(iid))) is not None:
            rems.setdefault(cid, []).append(ReminderRecord(str(iid), sdate))
    cust = data.get("customers") or {}
    names = list(cust)
    attrs = {
        str(vals[names.index("customer_id")]): dict(zip(names, vals, strict=True))
        for vals in zip(*cust.values(), strict=True)
    } if names else {}  # fmt: skip

    def num(v: Any) -> float | None:
        return None if v is None else float(v)

    out = []
    for cid in dict.fromkeys([*attrs, *by_cust]):
        a = attrs.get(cid, {})
        out.append(
            CustomerRecord(
                cid, a.get("customer_type"), a.get("industry"), a.get("country"),
                num(a.get("payment_terms_days")), num(a.get("credit_limit")),
                a.get("created_date"), invoices=tuple(by_cust.get(cid, ())),
                payments=tuple(pays.get(cid, ())), reminders=tuple(rems.get(cid, ())),
            )
        )  # fmt: skip
    return out
