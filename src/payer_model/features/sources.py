"""Feature inputs as DuckDB views: in-memory frames, or the contract files read in place.

The feature and label SQL read four views (``invoices_in``, ``customers_in``,
``payments_in``, ``reminders_in``). :func:`register_inputs` creates them either over pandas
frames (the in-memory entry the API, the parity tests and notebooks use) or directly over
Parquet/CSV files, so DuckDB scans the files with projection and filter push-down and no
pandas frame of millions of rows is built in between.

Files are read as they are: they must already be contract-shaped (the output of
``payer-model import``, or validated Parquet such as the bench data). Optional columns
missing from a file are read as NULL, which the SQL treats exactly like the defaults of the
in-memory path (``document_type`` invoice, not disputed, never paid / written off).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

INPUTS: dict[str, dict[str, str]] = {
    "invoices": {
        "invoice_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "invoice_date": "DATE",
        "due_date": "DATE",
        "paid_date": "DATE",
        "amount": "DOUBLE",
        "document_type": "VARCHAR",
        "disputed": "BOOLEAN",
        "dispute_date": "DATE",
        "written_off_date": "DATE",
    },
    "customers": {
        "customer_id": "VARCHAR",
        "customer_type": "VARCHAR",
        "industry": "VARCHAR",
        "country": "VARCHAR",
        "payment_terms_days": "DOUBLE",
        "credit_limit": "DOUBLE",
        "created_date": "DATE",
    },
    "payments": {"invoice_id": "VARCHAR", "payment_date": "DATE", "amount": "DOUBLE"},
    "reminders": {"invoice_id": "VARCHAR", "sent_date": "DATE"},
}
"""The columns each feature input view exposes, with their SQL types."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "invoices": ("invoice_id", "customer_id", "invoice_date", "due_date", "amount"),
    "customers": ("customer_id",),
    "payments": ("invoice_id", "payment_date", "amount"),
    "reminders": ("invoice_id", "sent_date"),
}
VIEWS: tuple[str, ...] = tuple(f"{name}_in" for name in INPUTS)


def is_file_source(value: Any) -> bool:
    """True when a table is given as a file path rather than an in-memory frame."""
    return isinstance(value, str | Path)


def table_files(folder: str | Path) -> dict[str, Path]:
    """The contract files of a data folder (Parquet preferred over CSV), by table name.

    Raises:
        ValueError: a table is only available as a spreadsheet (import it first).
    """
    from payer_model.data.io import find_table_files

    files, _ = find_table_files(folder)
    out = {k: Path(v) for k, v in files.items() if k in INPUTS}
    for name, path in out.items():
        if path.suffix.lower() == ".xlsx":
            raise ValueError(
                f"{path}: features read Parquet or CSV files in place; convert the "
                f"{name} spreadsheet with `payer-model import` first"
            )
    return out


def file_relation(path: str | Path) -> str:
    """The DuckDB table function that reads one Parquet or CSV file."""
    path = Path(path)
    text = str(path).replace("'", "''")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return f"read_parquet('{text}')"
    if name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        # every column as text: ids keep leading zeros; the view casts each column
        return f"read_csv('{text}', header = true, all_varchar = true)"
    raise ValueError(f"{path}: unsupported file type for features (use Parquet or CSV)")


def _file_view(con, name: str, path: Path) -> str:
    reader = file_relation(path)
    described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    present = {str(r[0]).lower(): str(r[0]) for r in described}
    missing = [c for c in REQUIRED[name] if c not in present]
    if missing:
        raise ValueError(f"{path}: required column(s) {', '.join(missing)} missing")
    cols = []
    for col, typ in INPUTS[name].items():
        src = present.get(col)
        quoted = '"' + src.replace('"', '""') + '"' if src else None
        cols.append(f"CAST({quoted} AS {typ}) AS {col}" if src else f"NULL::{typ} AS {col}")
    return f"SELECT {', '.join(cols)} FROM {reader}"


def _empty_view(name: str) -> str:
    cols = ", ".join(f"NULL::{typ} AS {col}" for col, typ in INPUTS[name].items())
    return f"SELECT {cols} WHERE false"


def register_inputs(
    con, tables: Mapping[str, Any], frames: Mapping[str, Any]
) -> list[tuple[str, bool]]:
    """Create the ``*_in`` views on ``con`` for every input.

    Args:
        con: DuckDB connection.
        tables: table name -> file path, frame or None (as given by the caller).
        frames: table name -> prepared pandas frame for in-memory inputs (see
            :mod:`.batch`), used when ``tables[name]`` is not a path.

    Returns:
        (view, is_registered_frame) pairs, for :func:`release_inputs`.
    """
    created: list[tuple[str, bool]] = []
    for name, columns in INPUTS.items():
        view = f"{name}_in"
        src = tables.get(name)
        if is_file_source(src):
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {view} AS {_file_view(con, name, Path(src))}"
            )
        elif name == "customers" and is_file_source(tables.get("invoices")) and src is None:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT DISTINCT customer_id, "
                + ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items() if c != "customer_id")
                + " FROM invoices_in"
            )
        elif frames.get(name) is not None:
            con.register(view, frames[name])
            created.append((view, True))
            continue
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {_empty_view(name)}")
        created.append((view, False))
    return created


def release_inputs(con, views: list[tuple[str, bool]]) -> None:
    """Drop the views :func:`register_inputs` created (frames are unregistered)."""
    for view, registered in reversed(views):
        if registered:
            con.unregister(view)
        else:
            con.execute(f"DROP VIEW IF EXISTS {view}")


def cutoffs_frame(cutoffs: pd.DatetimeIndex) -> pd.DataFrame:
    """The cutoffs as the one-column frame the SQL reads as ``cutoffs_in``."""
    return pd.DataFrame({"as_of": cutoffs})
