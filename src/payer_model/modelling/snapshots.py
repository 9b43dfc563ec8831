"""Training snapshots: as-of features joined to realised labels over many cutoffs.

With the DuckDB engine the training set is assembled in DuckDB: the multi-cutoff feature
plan (:mod:`payer_model.features.duckplan`), the realised labels (the label SQL of
:mod:`payer_model.features.labels`) and both baselines (the rule rating and, as the
``prev_label`` feature, persistence) are joined in one query; the inputs may be files read
in place. Memory is bounded by ``PAYER_DUCKDB_MEMORY_LIMIT``: the cutoffs go in groups
sized to the limit (:data:`BYTES_PER_INVOICE_CUTOFF`), one query per group, since exact
quantiles and windows over invoice x cutoff rows cannot all spill.
Spark keeps the frame-level assembly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import TrainConfig
from payer_model.features import Tables, compute
from payer_model.features.labels import label_snapshots
from payer_model.modelling.baselines import rule_rating, rule_rating_sql

log = logging.getLogger(__name__)

BYTES_PER_INVOICE_CUTOFF = 250.0
"""DuckDB memory budgeted per invoice and cutoff of one query. Measured at 2.7M invoices
under a 3 GB limit: 4 cutoffs a query 31 s CPU, 6 a query 86 s (spilling), 2 a query 34 s."""


def _snapshots_sql(n_cutoffs: int, cfg: TrainConfig, with_labels: bool) -> str:
    from payer_model.features.duckplan import features_query
    from payer_model.features.labels import label_sql

    feats = features_query(
        n_cutoffs,
        window_days=cfg.features.window_days,
        trend_days=cfg.features.trend_days,
        labels=cfg.labels,
    )
    cols = (
        f"f.*, f.paid_n >= {int(cfg.features.min_paid_invoices)} AS rated, "
        f"{rule_rating_sql('f', cfg.labels)} AS rule_rating"
    )
    if not with_labels:
        return f"SELECT {cols} FROM ({feats}) f ORDER BY as_of, customer_id"
    return (
        f"SELECT {cols}, lab.* EXCLUDE (customer_id, as_of)\n"
        f"FROM ({feats}) f\nLEFT JOIN ({label_sql(cfg.labels, 'duckdb')}) lab "
        "USING (customer_id, as_of)\nORDER BY as_of, customer_id"
    )


def snapshots_duckdb(
    tables: Tables | dict[str, Any] | str,
    cutoffs: Sequence[pd.Timestamp],
    cfg: TrainConfig,
    *,
    with_labels: bool = True,
    con=None,
) -> pd.DataFrame:
    """The training set in one DuckDB query (see the module docstring).

    ``tables`` holds frames or Parquet/CSV paths, or is a data folder.
    """
    from payer_model.features.batch import as_timestamps, connect_from_settings
    from payer_model.features.duckplan import (
        feature_inputs,
        memory_limit_bytes,
        run_query,
        set_cutoffs,
        typed_features,
    )

    cuts = as_timestamps(list(cutoffs))
    own = con is None
    con = con or connect_from_settings()
    try:
        with feature_inputs(con, Tables.of(tables).as_dict(), cuts):
            ((n_inv,),) = con.execute("SELECT count(*) FROM invoices_in").fetchall()
            fit = memory_limit_bytes(con) / (BYTES_PER_INVOICE_CUTOFF * max(1, n_inv))
            per = int(min(len(cuts), max(1, fit)))
            parts = []
            for i in range(0, len(cuts), per):
                group = cuts[i : i + per]
                set_cutoffs(con, group)
                parts.append(run_query(con, _snapshots_sql(len(group), cfg, with_labels)))
                log.info("snapshots: cutoffs %d-%d of %d", i + 1, i + len(group), len(cuts))
    finally:
        if own:
            con.close()
    out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    del parts
    out = typed_features(out)
    out["rated"] = out["rated"].astype(bool)
    # the pandas baseline's type: object, None where no payment is known
    out["rule_rating"] = out["rule_rating"].astype(object).where(out["rule_rating"].notna(), None)
    if with_labels:  # the types of a left merge onto the labels frame: NaN where unlabelled
        out["label"] = out["label"].astype(str).where(out["label"].notna(), np.nan)
        out["label_invoices"] = out["label_invoices"].astype(np.float64)
        wo = out["label_writeoff"]
        out["label_writeoff"] = wo.astype(object).where(wo.notna(), np.nan)
    return out


def build_snapshots(
    tables: dict[str, pd.DataFrame | None] | Tables | str,
    cutoffs: Sequence[pd.Timestamp],
    cfg: TrainConfig,
    *,
    with_labels: bool = True,
    **engine: Any,
) -> pd.DataFrame:
    """Features, label, rule rating and persistence label for each customer and cutoff.

    Args:
        tables: ``customers``, ``invoices`` and optional ``payments``, ``reminders``
            (frames, or for DuckDB Parquet/CSV paths), or a data folder.
        cutoffs: the cutoffs T.
        cfg: training configuration.
        with_labels: join the realised label (False for scoring).
        **engine: engine selection passed to ``build_features`` (``engine="spark",
            spark=...``; see :func:`payer_model.features.engine_options`).

    Returns:
        Features plus ``label`` (may be missing), ``rule_rating`` and
        ``rated`` (enough paid invoices to be rated).
    """
    if engine.get("engine", "duckdb") == "duckdb":
        snap = snapshots_duckdb(
            tables, cutoffs, cfg, with_labels=with_labels, con=engine.get("con")
        )
        log.info("built %d snapshots over %d cutoffs", len(snap), len(cutoffs))
        return snap
    feats = compute(tables, list(cutoffs), cfg, **engine)
    feats["rated"] = feats["paid_n"] >= cfg.features.min_paid_invoices
    feats["rule_rating"] = rule_rating(feats, cfg.labels)
    if with_labels:
        lab = label_snapshots(Tables.of(tables).invoices, list(cutoffs), cfg.labels)
        feats = feats.merge(lab, on=["customer_id", "as_of"], how="left")
    log.info("built %d snapshots over %d cutoffs", len(feats), len(cutoffs))
    return feats


def usable(snap: pd.DataFrame) -> pd.DataFrame:
    """Snapshots that train or evaluate the model: labelled and rated."""
    mask = snap["label"].notna() & snap["rated"].astype(bool)
    return snap.loc[mask].reset_index(drop=True)


def class_balance(snap: pd.DataFrame) -> pd.DataFrame:
    """Label counts per cutoff (for the notebooks and the logs)."""
    tab = pd.crosstab(snap["as_of"], snap["label"])
    return tab.reindex(columns=["good", "average", "bad"], fill_value=0).astype(np.int64)
