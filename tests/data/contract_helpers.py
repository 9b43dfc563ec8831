"""Constants and assertions shared by the contract tests (tiny hand-written tables)."""

from __future__ import annotations

import pandas as pd

from payer_model.data.contract import Dataset

CUSTOMERS_CSV = """\
customer_id,customer_type,industry,country,payment_terms_days,credit_limit,name,email
C1,company,retail,DE,30,10000,Alpha GmbH,alpha@example.com
C2,sole_trader,crafts,PL,14,,Bob Nowak,bob@example.com
"""

INVOICE_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,paid_date\n"
GOOD_INVOICE_ROWS = """\
I1,C1,2024-01-05,2024-02-04,100.00,2024-02-01
I2,C2,2024-01-10,2024-01-24,250.50,
"""
INVOICES_CSV = INVOICE_HEADER + GOOD_INVOICE_ROWS


def reasons(ds: Dataset, table: str = "invoices") -> dict[str, str]:
    """id of each quarantined row -> its reason string."""
    q = ds.quarantine.get(table)
    if q is None:
        return {}
    key = {"customers": "customer_id", "invoices": "invoice_id"}.get(table)
    ids = q[key] if key else q["_row"].astype(str)
    return dict(zip(ids.astype(str), q["_reason"].astype(str), strict=True))


def assert_nothing_lost(ds: Dataset) -> None:
    """rows_in + derived == rows_out + quarantined for every table, matching the frames."""
    rep = ds.report
    for table, frame in ds.tables.items():
        assert rep.rows_in[table] + rep.derived[table] == (
            rep.rows_out[table] + rep.quarantined[table]
        ), table
        assert rep.rows_out[table] == len(frame), table
        q = ds.quarantine.get(table)
        assert rep.quarantined[table] == (0 if q is None else len(q)), table


def ids(frame: pd.DataFrame, col: str = "invoice_id") -> list[str]:
    return frame[col].astype(str).tolist()
