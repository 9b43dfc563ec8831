"""The feature and label SQL of :mod:`payer_model.features.batch` run on Apache Spark (DESIGN §9).

Nothing here defines a feature: the query text is ``features._SQL`` / ``labels._SQL``
rendered for the Spark dialect by :func:`payer_model.features.sqldialect.render`. This module only
turns inputs into Spark views (dates as ``DATE``, ids as strings), runs the query and,
for :func:`build_features_spark`, returns the same pandas frame as the DuckDB path.

pyspark is imported inside the functions so that importing the package stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import LabelConfig
from payer_model.features.batch import (
    EMPTY_PAYMENTS,
    EMPTY_REMINDERS,
    as_timestamps,
    customers_frame,
    feature_sql,
    finalise_features,
    invoices_frame,
)
from payer_model.features.definitions import FEATURE_COLUMNS

log = logging.getLogger(__name__)

_DATE_COLS = (
    "invoice_date",
    "due_date",
    "paid_date",
    "dispute_date",
    "written_off_date",
    "payment_date",
    "sent_date",
    "created_date",
)
_VIEWS = ("invoices_in", "customers_in", "payments_in", "reminders_in", "cutoffs_in")


def spark_session(app_name: str = "payer-model", master: str | None = None, **conf: Any):
    """A SparkSession with the settings the feature SQL relies on.

    Args:
        app_name: application name.
        master: e.g. ``"local[2]"``; None keeps what spark-submit configured.
        **conf: extra Spark settings (``spark.sql.shuffle.partitions`` ...).

    Returns:
        The active or a new SparkSession (Arrow transfers on, UTC session zone).
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    settings = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        **conf,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def to_spark(spark, frame, date_cols: Sequence[str] = _DATE_COLS):
    """A pandas frame as a Spark DataFrame with its date columns typed ``DATE``.

    Dates travel as integer days since 1970-01-01 and are rebuilt with
    ``date_from_unix_date``, so no time zone can shift them. A Spark DataFrame is passed
    through unchanged.
    """
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql import types as T  # noqa: N812

    if isinstance(frame, DataFrame):
        return frame
    pdf = pd.DataFrame(index=frame.index)
    fields, dates = [], []
    for col in frame.columns:
        s = frame[col]
        if col in date_cols:
            d = pd.to_datetime(s).to_numpy(dtype="datetime64[D]")
            nat = np.isnat(d)
            days = pd.arrays.IntegerArray(
                np.where(nat, 0, d.astype(np.int64)).astype(np.int32), nat
            )
            pdf[col] = days
            fields.append(T.StructField(col, T.IntegerType()))
            dates.append(col)
        elif pd.api.types.is_bool_dtype(s):
            pdf[col] = s.astype(bool)
            fields.append(T.StructField(col, T.BooleanType()))
        elif pd.api.types.is_numeric_dtype(s):
            pdf[col] = s.astype(np.float64)
            fields.append(T.StructField(col, T.DoubleType()))
        else:
            pdf[col] = (
                s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
            )
            fields.append(T.StructField(col, T.StringType()))
    sdf = spark.createDataFrame(pdf.reset_index(drop=True), schema=T.StructType(fields))
    for col in dates:
        sdf = sdf.withColumn(col, F.date_from_unix_date(F.col(col)))
    return sdf


def _cutoffs(spark, cutoffs: pd.DatetimeIndex):
    from pyspark.sql import types as T  # noqa: N812

    rows = [(t.date(),) for t in cutoffs]
    schema = T.StructType([T.StructField("as_of", T.DateType())])
    return spark.createDataFrame(rows, schema=schema)


def _previous_period_spark(spark, invoices, cutoffs: pd.DatetimeIndex, cfg: LabelConfig):
    """Spark twin of :func:`payer_model.features.labels.previous_period` (same label SQL)."""
    from pyspark.sql import functions as F  # noqa: N812

    from payer_model.features.labels import LABEL_INDEX, label_sql

    lag = pd.Timedelta(days=cfg.observation_days)
    last = cutoffs.max().date()
    known = invoices.filter(F.col("invoice_date") < F.lit(last))
    for col in ("paid_date", "written_off_date"):
        known = known.withColumn(
            col, F.when(F.col(col) < F.lit(last), F.col(col)).otherwise(F.lit(None))
        )
    known.createOrReplaceTempView("invoices_in")
    _cutoffs(spark, cutoffs - lag).createOrReplaceTempView("cutoffs_in")
    prev = spark.sql(label_sql(cfg, "spark")).toPandas()
    as_of = pd.to_datetime(prev["as_of"]) + lag
    return pd.DataFrame(
        {
            "customer_id": prev["customer_id"].astype(str),
            "as_of": as_of.astype("datetime64[us]"),
            "prev_label": prev["label"].astype(str),
            "prev_label_code": prev["label"].map(LABEL_INDEX).astype(float),
            "prev_mean_days_late": prev["label_mean_days_late"].astype(float),
            "prev_unpaid_share": prev["label_unpaid_share"].astype(float),
        }
    )


def features_frame_spark(
    spark,
    invoices,
    cutoffs: pd.DatetimeIndex,
    *,
    customers=None,
    payments=None,
    reminders=None,
    window_days: int = 365,
    trend_days: int = 90,
):
    """The feature query as a lazy Spark DataFrame (no previous-period columns).

    Use this on a cluster to keep the result distributed (write it partitioned by
    ``as_of``); :func:`build_features_spark` collects it to pandas.
    """
    from pyspark.sql import functions as F  # noqa: N812

    inv = to_spark(spark, invoices if _is_spark(invoices) else invoices_frame(invoices))
    if customers is None or (not _is_spark(customers) and len(customers) == 0):
        ids = inv.select(F.col("customer_id").cast("string").alias("customer_id")).distinct()
        cust = ids.select(
            "customer_id",
            *[
                F.lit(None).cast(t).alias(c)
                for c, t in (
                    ("customer_type", "string"),
                    ("industry", "string"),
                    ("country", "string"),
                    ("payment_terms_days", "double"),
                    ("credit_limit", "double"),
                    ("created_date", "date"),
                )
            ],
        )
    elif _is_spark(customers):
        cust = customers
    else:
        cust = to_spark(spark, customers_frame(customers, invoices))
    pay = payments if payments is not None and len(payments) else EMPTY_PAYMENTS
    rem = reminders if reminders is not None and len(reminders) else EMPTY_REMINDERS
    pay = to_spark(spark, pay if _is_spark(pay) else pay[["invoice_id", "payment_date", "amount"]])
    rem = to_spark(spark, rem if _is_spark(rem) else rem[["invoice_id", "sent_date"]])
    for name, sdf in zip(_VIEWS, (inv, cust, pay, rem, _cutoffs(spark, cutoffs)), strict=True):
        sdf.createOrReplaceTempView(name)
    return spark.sql(feature_sql(window_days, trend_days, "spark")), inv


def _is_spark(frame) -> bool:
    return type(frame).__module__.startswith("pyspark.")


def build_features_spark(
    spark,
    invoices,
    as_of: date | str | Sequence,
    *,
    customers=None,
    payments=None,
    reminders=None,
    window_days: int = 365,
    trend_days: int = 90,
    labels: LabelConfig | None = None,
) -> pd.DataFrame:
    """Same contract and output as :func:`payer_model.features.dispatch.build_features` on Spark.

    Inputs may be pandas frames (converted) or Spark DataFrames already in the contract
    shape with ``DATE`` columns (e.g. read from Parquet partitioned by month).
    """
    cutoffs = as_timestamps(as_of)
    sdf, inv = features_frame_spark(
        spark,
        invoices,
        cutoffs,
        customers=customers,
        payments=payments,
        reminders=reminders,
        window_days=window_days,
        trend_days=trend_days,
    )
    out = sdf.toPandas()
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")
    prev = _previous_period_spark(spark, inv, cutoffs, labels or LabelConfig())
    for view in _VIEWS:
        spark.catalog.dropTempView(view)
    out = finalise_features(out, prev)
    out = out.sort_values(["as_of", "customer_id"], kind="stable")
    log.info("spark features: %d rows over %d cutoffs", len(out), len(cutoffs))
    return out[list(FEATURE_COLUMNS)].reset_index(drop=True)
