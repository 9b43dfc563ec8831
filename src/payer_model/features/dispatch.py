"""One entry point for features: typed tables in, the as-of feature frame out.

Every caller (training snapshots, batch scoring, the CLI, notebooks, monitoring) goes
through :func:`compute`, which reads the windows *and* the label definition from the one
config, so no call site can forget the label config (``prev_label*`` features depend on it).
:func:`build_features` is the same dispatch with explicit keywords, for tests and notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from payer_model.config import FeatureConfig, LabelConfig

if TYPE_CHECKING:
    import pandas as pd

ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Tables:
    """The contract tables a feature engine reads (pandas or, for Spark, Spark frames)."""

    invoices: Any
    customers: Any = None
    payments: Any = None
    reminders: Any = None

    @classmethod
    def of(cls, tables: Tables | Mapping[str, Any] | str | Path | Any) -> Tables:
        """Tables from a mapping (``load_tables``), a ``Dataset``, a ``Tables`` or a folder."""
        if isinstance(tables, Tables):
            return tables
        if isinstance(tables, str | Path):
            return cls.from_folder(tables)
        if isinstance(tables, Mapping):
            return cls(
                invoices=tables["invoices"],
                customers=tables.get("customers"),
                payments=tables.get("payments"),
                reminders=tables.get("reminders"),
            )
        return cls(
            invoices=tables.invoices,
            customers=getattr(tables, "customers", None),
            payments=getattr(tables, "payments", None),
            reminders=getattr(tables, "reminders", None),
        )

    @classmethod
    def from_folder(cls, folder: str | Path) -> Tables:
        """The contract files of a folder as paths: DuckDB reads them in place.

        The files must already be contract-shaped (``payer-model import`` output or
        validated Parquet); see :mod:`payer_model.features.sources`.
        """
        from payer_model.features.sources import table_files

        files = table_files(folder)
        return cls(
            invoices=files["invoices"],
            customers=files.get("customers"),
            payments=files.get("payments"),
            reminders=files.get("reminders"),
        )

    def as_dict(self) -> dict[str, Any]:
        """The tables by contract name (frames, paths or None)."""
        return {
            "invoices": self.invoices,
            "customers": self.customers,
            "payments": self.payments,
            "reminders": self.reminders,
        }


def compute(
    tables: Tables | Mapping[str, Any] | str | Path,
    as_of: date | str | Sequence,
    cfg: Any,
    *,
    engine: str = "duckdb",
    con=None,
    spark=None,
) -> pd.DataFrame:
    """Features of every customer as of one or many cutoffs.

    Args:
        tables: the contract tables (a :class:`Tables` or a mapping with those keys, whose
            values are frames or Parquet/CSV paths), or a data folder whose files DuckDB
            reads in place (no pandas copy of the invoices).
        as_of: one cutoff or a sequence of cutoffs (start of day).
        cfg: the training configuration (``cfg.features`` windows, ``cfg.labels``).
        engine: ``"duckdb"`` (embedded, default) or ``"spark"``.
        con: a DuckDB connection to reuse.
        spark: the SparkSession for ``engine="spark"``.

    Returns:
        One row per customer and cutoff, columns ``FEATURE_COLUMNS``.
    """
    t = Tables.of(tables)
    return build_features(
        t.invoices,
        as_of,
        customers=t.customers,
        payments=t.payments,
        reminders=t.reminders,
        features=cfg.features,
        labels=cfg.labels,
        engine=engine,
        con=con,
        spark=spark,
    )


def build_features(
    invoices,
    as_of: date | str | Sequence,
    *,
    customers=None,
    payments=None,
    reminders=None,
    features: FeatureConfig | None = None,
    window_days: int | None = None,
    trend_days: int | None = None,
    labels: LabelConfig | None = None,
    engine: str = "duckdb",
    con=None,
    spark=None,
) -> pd.DataFrame:
    """Dispatch to the DuckDB or Spark engine with explicit inputs.

    Windows come from ``features`` (a :class:`FeatureConfig`) unless given one by one;
    ``labels`` defaults to :class:`LabelConfig` defaults.
    """
    fc = features or FeatureConfig()
    kw = {
        "customers": customers,
        "payments": payments,
        "reminders": reminders,
        "window_days": fc.window_days if window_days is None else window_days,
        "trend_days": fc.trend_days if trend_days is None else trend_days,
        "labels": labels,
    }
    if engine == "spark":
        from payer_model.features.spark import build_features_spark, spark_session

        return build_features_spark(spark or spark_session(), invoices, as_of, **kw)
    if engine != "duckdb":
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    from payer_model.features.duckplan import build_features_duckdb

    return build_features_duckdb(invoices, as_of, con=con, **kw)


def engine_options(engine: str = "duckdb") -> dict:
    """Keyword arguments for :func:`compute` that select and configure an engine.

    ``duckdb``: a connection with the spill directory and memory cap from the environment
    (``PAYER_DUCKDB_TEMP_DIR``, ``PAYER_DUCKDB_MEMORY_LIMIT``). ``spark``: the active or a
    new SparkSession (master and resources as configured by spark-submit).
    """
    if engine == "spark":
        from payer_model.features.spark import spark_session

        return {"engine": "spark", "spark": spark_session()}
    if engine != "duckdb":
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    from payer_model.features.batch import connect_from_settings

    return {"engine": "duckdb", "con": connect_from_settings()}
