"""The DuckDB feature plan: inputs as views, features and last period's label in one query.

:func:`build_features_duckdb` is what :func:`payer_model.features.compute` runs for
``engine="duckdb"``. Inputs are in-memory frames or files read in place
(:mod:`.sources`); the feature SQL (:mod:`.batch`) and the previous-period label SQL
(:mod:`.labels`, the same label definition as training) run as one DuckDB query whose
result already has the columns, order and types of ``FEATURE_COLUMNS``, so there is no
pandas merge and no pandas copy of the invoices. With one cutoff (scoring) the plan uses
plain filters instead of ASOF joins (:func:`.sqldialect.render`); with many cutoffs
(training sets) each invoice event is assigned once to the first cutoff that sees it and
accumulated over cutoffs, rather than recomputed per cutoff.

:func:`feature_inputs` and :func:`features_query` are public so that the training-set
assembly (:mod:`payer_model.modelling.snapshots`) can join labels and baselines in the
same query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from payer_model.config import LabelConfig
from payer_model.features.batch import (
    EMPTY_PAYMENTS,
    EMPTY_REMINDERS,
    as_timestamps,
    connect_from_settings,
    customers_frame,
    feature_sql,
    invoices_frame,
    resource_error,
)
from payer_model.features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    NUMERIC_FEATURES,
)
from payer_model.features.labels import LABEL_INDEX, label_sql
from payer_model.features.sources import (
    is_file_source,
    register_inputs,
    release_inputs,
)

log = logging.getLogger(__name__)

_PREV = ("prev_label", "prev_label_code", "prev_mean_days_late", "prev_unpaid_share")


def _prev_sql(labels: LabelConfig) -> str:
    """Last period's label at each cutoff T: the label at ``T - H - G`` (observed by T).

    The SQL twin of :func:`payer_model.features.labels.previous_period`: invoices issued
    before the last cutoff, with payments and write-offs dated on or after it blanked.
    """
    obs = int(labels.observation_days)
    known = (
        "(SELECT customer_id, invoice_date, due_date, amount, document_type, "
        "CASE WHEN paid_date < (SELECT max(CAST(as_of AS DATE)) FROM cutoffs_in) "
        "THEN paid_date END AS paid_date, "
        "CASE WHEN written_off_date < (SELECT max(CAST(as_of AS DATE)) FROM cutoffs_in) "
        "THEN written_off_date END AS written_off_date "
        "FROM invoices_in "
        "WHERE invoice_date < (SELECT max(CAST(as_of AS DATE)) FROM cutoffs_in))"
    )
    cuts = f"(SELECT CAST(as_of AS DATE) - {obs} AS as_of FROM cutoffs_in)"
    code = " ".join(f"WHEN '{k}' THEN {float(v)}" for k, v in LABEL_INDEX.items())
    return f"""
SELECT customer_id,
    CAST(CAST(as_of AS DATE) + {obs} AS TIMESTAMP) AS as_of,
    label AS prev_label,
    CAST(CASE label {code} END AS DOUBLE) AS prev_label_code,
    CAST(label_mean_days_late AS DOUBLE) AS prev_mean_days_late,
    CAST(label_unpaid_share AS DOUBLE) AS prev_unpaid_share
FROM ({label_sql(labels, "duckdb", invoices=known, cutoffs=cuts)}) lab
"""


def features_query(
    n_cutoffs: int,
    *,
    window_days: int = 365,
    trend_days: int = 90,
    labels: LabelConfig | None = None,
) -> str:
    """The full DuckDB feature query over the ``*_in`` views: ``FEATURE_COLUMNS`` rows.

    Args:
        n_cutoffs: how many cutoffs ``cutoffs_in`` holds (1 selects the one-cutoff plan).
        window_days: bounded history window.
        trend_days: trend window.
        labels: label definition for the ``prev_*`` features.

    Returns:
        SQL with one row per customer and cutoff, ordered by ``as_of, customer_id``.
    """
    feats = feature_sql(window_days, trend_days, "duckdb", one_cutoff=n_cutoffs == 1)
    cols = []
    for col in FEATURE_COLUMNS:
        if col == "prev_label":
            cols.append("coalesce(p.prev_label, 'none') AS prev_label")
        elif col in _PREV:
            cols.append(f"p.{col}")
        elif col in NUMERIC_FEATURES:
            cols.append(f"CAST(f.{col} AS DOUBLE) AS {col}")
        elif col in CATEGORICAL_FEATURES:
            cols.append(f"CAST(f.{col} AS VARCHAR) AS {col}")
        else:
            cols.append(col)
    return (
        f"SELECT {', '.join(cols)}\nFROM ({feats}) f\n"
        f"LEFT JOIN ({_prev_sql(labels or LabelConfig())}) p USING (customer_id, as_of)\n"
        "ORDER BY as_of, customer_id"
    )


def _frames(tables: Mapping[str, Any]) -> dict[str, Any]:
    """Prepared pandas frames for the in-memory inputs (files are read by DuckDB)."""
    inv = tables["invoices"]
    out: dict[str, Any] = {}
    if not is_file_source(inv):
        out["invoices"] = invoices_frame(inv)
    cust = tables.get("customers")
    if not is_file_source(cust) and not (is_file_source(inv) and (cust is None or not len(cust))):
        out["customers"] = customers_frame(cust, inv)
    pay = tables.get("payments")
    if not is_file_source(pay):
        pay = pay if pay is not None and len(pay) else EMPTY_PAYMENTS
        out["payments"] = pay[["invoice_id", "payment_date", "amount"]]
    rem = tables.get("reminders")
    if not is_file_source(rem):
        rem = rem if rem is not None and len(rem) else EMPTY_REMINDERS
        out["reminders"] = rem[["invoice_id", "sent_date"]]
    return out


@contextmanager
def feature_inputs(con, tables: Mapping[str, Any], cutoffs: pd.DatetimeIndex) -> Iterator[None]:
    """The ``*_in`` views and ``cutoffs_in`` registered on ``con`` for the block's duration.

    ``tables`` maps ``invoices``, ``customers``, ``payments``, ``reminders`` to frames,
    file paths (Parquet/CSV, read in place) or None.
    """
    srcs = dict(tables)
    cust = srcs.get("customers")
    if cust is not None and not is_file_source(cust) and not len(cust):
        srcs["customers"] = None
    views = register_inputs(con, srcs, _frames(srcs))
    con.register("cutoffs_in", pd.DataFrame({"as_of": cutoffs}))
    try:
        yield
    finally:
        con.unregister("cutoffs_in")
        release_inputs(con, views)


def set_cutoffs(con, cutoffs: pd.DatetimeIndex) -> None:
    """Point ``cutoffs_in`` at other cutoffs (inside :func:`feature_inputs`)."""
    con.unregister("cutoffs_in")
    con.register("cutoffs_in", pd.DataFrame({"as_of": cutoffs}))


def memory_limit_bytes(con) -> float:
    """The connection's DuckDB memory limit in bytes (``inf`` when it cannot be read)."""
    units = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    units |= {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    ((text,),) = con.execute("SELECT current_setting('memory_limit')").fetchall()
    try:
        number, unit = str(text).split()
        return float(number) * units[unit]
    except (ValueError, KeyError):
        return float("inf")


def run_query(con, sql: str, fetch: str = "df") -> Any:
    """Run a feature query; out-of-memory or out-of-disk become one clear error.

    ``fetch`` is ``"df"`` (pandas) or ``"arrow"`` (a pyarrow Table).
    """
    try:
        res = con.execute(sql)
        return res.to_arrow_table() if fetch == "arrow" else res.df()
    except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
        if hasattr(con, "abort"):  # a failed streaming fetch leaves the result open
            con.abort()
        clear = resource_error(con, exc)
        if clear is None:
            raise
        raise clear from exc


def typed_features(out: pd.DataFrame) -> pd.DataFrame:
    """The output types of every engine: ids as text, ``as_of`` in µs, numbers as float64."""
    out["customer_id"] = out["customer_id"].astype(str)
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")
    for col in CATEGORICAL_FEATURES:
        out[col] = out[col].astype(str)
    return out


def build_features_duckdb(
    invoices: Any,
    as_of: date | str | Sequence,
    *,
    customers: Any = None,
    payments: Any = None,
    reminders: Any = None,
    window_days: int = 365,
    trend_days: int = 90,
    labels: LabelConfig | None = None,
    con=None,
) -> pd.DataFrame:
    """Customer features as of one or many cutoffs with the embedded DuckDB engine.

    Callers use :func:`payer_model.features.compute` (or ``build_features``), which picks
    the engine; each table is a pandas frame or a Parquet/CSV file path.

    Returns:
        One row per customer and cutoff for customers with at least one invoice before the
        cutoff, columns ``FEATURE_COLUMNS``.
    """
    cutoffs = as_timestamps(as_of)
    tables = {
        "invoices": invoices,
        "customers": customers,
        "payments": payments,
        "reminders": reminders,
    }
    sql = features_query(
        len(cutoffs), window_days=window_days, trend_days=trend_days, labels=labels
    )
    own = con is None
    con = con or connect_from_settings()
    try:
        with feature_inputs(con, tables, cutoffs):
            out = run_query(con, sql)
    finally:
        if own:
            con.close()
    return typed_features(out)[list(FEATURE_COLUMNS)].reset_index(drop=True)
