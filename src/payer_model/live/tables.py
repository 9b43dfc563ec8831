"""Ledger rows as contract tables: the columns and dtypes the contract loader gives.

The batch features, the online features and the policy engine all read contract tables;
the ledger hands its rows over in exactly that shape (``schema.TABLE_COLUMNS``, dates
``datetime64[us]``, money ``float64``), so each of them runs unchanged on the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from payer_model.data.schema import DATE_COLUMNS, DATE_DTYPE, TABLE_COLUMNS

_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
_FLOATS = frozenset({"amount", "paid_amount", "payment_terms_days", "credit_limit"})


def contract_frame(name: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One contract table from row dicts (extra keys dropped, missing columns empty)."""
    cols = TABLE_COLUMNS[name]
    frame = pd.DataFrame.from_records(list(rows), columns=list(cols))
    for c in cols:
        if c in DATE_COLUMNS[name]:
            frame[c] = pd.to_datetime(frame[c]).astype(DATE_DTYPE)
        elif c in _FLOATS:
            frame[c] = pd.to_numeric(frame[c]).astype("float64")
        elif c == "disputed":
            frame[c] = frame[c].fillna(False).astype(bool)
        else:  # the contract's text dtype: pandas' default string dtype (str on pandas 3)
            text = frame[c].astype(object).where(frame[c].notna(), None)
            frame[c] = text.astype("str") if _PANDAS_3 else text
    return frame


def contract_frames(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, pd.DataFrame]:
    """The four contract tables from rows per table name."""
    return {name: contract_frame(name, data.get(name, ())) for name in TABLE_COLUMNS}
