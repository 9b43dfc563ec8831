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
    cols = TABLE_COLUMNS[name]
    kinds = {c: "date" if c in DATE_COLUMNS[name] else "float" if c in _FLOATS else
             "bool" if c == "disputed" else "text" for c in cols}  # fmt: skip
    return pd.DataFrame(
        {c: _column(c, kinds[c], [r.get(c) for r in rows]) for c in cols}, columns=list(cols)
    )


def contract_frames(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, pd.DataFrame]:
    """The four contract tables from rows per table name."""
    return {name: contract_frame(name, data.get(name, ())) for name in TABLE_COLUMNS}


def records_from_rows(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[CustomerRecord]:
    """Ledger rows as the online path's :class:`CustomerRecord` s, without pandas.

    The same records :func:`payer_model.features.online.customers_from_tables` builds from
    the contract frames (customers of the customers rows first, then invoice-only ones;
    payments and reminders go to the customer owning their invoice).
    """
    by_cust: dict[str, list[InvoiceRecord]] = {}
    owner: dict[str, str] = {}
    for r in data.get("invoices", ()):
        cid = str(r["customer_id"])
        by_cust.setdefault(cid, []).append(
            InvoiceRecord(
                str(r["invoice_id"]), r["invoice_date"], r["due_date"], float(r["amount"]),
                r.get("document_type"), r.get("paid_date"), bool(r.get("disputed")),
                r.get("dispute_date"), r.get("written_off_date"),
            )
        )  # fmt: skip
        owner.setdefault(str(r["invoice_id"]), cid)
    pays: dict[str, list[PaymentRecord]] = {}
    for r in data.get("payments", ()):
        if (cid := owner.get(str(r["invoice_id"]))) is not None:
            rec = PaymentRecord(str(r["invoice_id"]), r["payment_date"], float(r["amount"]))
            pays.setdefault(cid, []).append(rec)
    rems: dict[str, list[ReminderRecord]] = {}
    for r in data.get("reminders", ()):
        if (cid := owner.get(str(r["invoice_id"]))) is not None:
            rems.setdefault(cid, []).append(ReminderRecord(str(r["invoice_id"]), r["sent_date"]))
    attrs = {str(r["customer_id"]): r for r in data.get("customers", ())}

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
