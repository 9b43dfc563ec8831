"""Batch scoring job: rate every customer as of a date, with reason codes.

:func:`score` computes the as-of features and rates them; :func:`rated_portfolio` does the
same once and keeps the features next to the ratings (what the segment rules and the
monitoring reports read). :func:`score_to_parquet` is the portfolio-scale form: features
read from the files in place, every customer rated at once, reasons computed worst-first
in chunks and streamed to Parquet, so memory stays bounded by the chunk.

Every rated customer keeps its top reasons. On large batches the exact TreeSHAP
contributions come from :class:`payer_model.modelling.treeshap.PatternExplainer` (the same
values as ``pred_contribs``, computed once per decision pattern, on all cores).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import TrainConfig
from payer_model.data.schema import UNRATED
from payer_model.features import Tables, compute
from payer_model.features.block import FeatureBlock
from payer_model.modelling.explain import INSUFFICIENT_HISTORY, NO_HISTORY_REASON, reason_codes
from payer_model.modelling.model import rate, rating_frame

OUTPUT_COLUMNS = (
    "customer_id",
    "as_of",
    "rating",
    "p_good",
    "p_average",
    "p_bad",
    "p_not_good",
    "score",
    "reasons",
    "reason_codes",
)
PATTERN_SHAP_MIN_ROWS = 2000
"""Batches from this size get their contributions by decision pattern (same values)."""


def explainer(model: Any, n_rows: int) -> Any:
    """The model to explain ``n_rows`` rows with: pattern TreeSHAP for large XGBoost batches."""
    if getattr(model, "kind", "") == "xgboost" and n_rows >= PATTERN_SHAP_MIN_ROWS:
        from payer_model.modelling.treeshap import PatternExplainer

        return PatternExplainer(model)
    return model


def _customer_ids(tables: Any) -> pd.Series | None:
    """The customer ids of the ``customers`` table (frame or file), None without one."""
    customers = (
        tables.get("customers") if isinstance(tables, Mapping) else Tables.of(tables).customers
    )
    if customers is None:
        return None
    if isinstance(customers, str | Path):
        import duckdb

        from payer_model.features.sources import file_relation

        con = duckdb.connect()
        try:
            ids = con.execute(f"SELECT customer_id FROM {file_relation(customers)}").df()
        finally:
            con.close()
        return ids["customer_id"].astype(str)
    return customers["customer_id"].astype(str) if len(customers) else None


def _customers_without_history(
    tables: dict[str, pd.DataFrame | None], rated: pd.DataFrame, as_of: date | str
) -> pd.DataFrame | None:
    """``unrated`` rows for the customers that have no feature row (no invoice yet)."""
    ids = _customer_ids(tables)
    if ids is None:
        return None
    missing = sorted(set(ids) - set(rated["customer_id"]))
    if not missing:
        return None
    return pd.DataFrame(
        {
            "customer_id": missing,
            "rating": UNRATED,
            "as_of": pd.Timestamp(as_of),
            "reasons": json.dumps([NO_HISTORY_REASON]),
            "reason_codes": INSUFFICIENT_HISTORY,
        }
    )


def rate_features(
    tables: dict[str, pd.DataFrame | None],
    features: pd.DataFrame,
    as_of: date | str,
    model,
    cfg: TrainConfig,
    *,
    model_version: str = "local",
) -> pd.DataFrame:
    """Ratings and reason codes for as-of feature rows; customers without rows are unrated.

    Args:
        tables: The contract tables (``customers`` lists who should get a row).
        features: The features as of ``as_of`` (from :func:`payer_model.features.compute`).
        as_of: The as-of date of ``features``.
        model: A fitted rating model (XGBoost or rule).
        cfg: Training config (``features.min_paid_invoices``).
        model_version: Written into every row.

    Returns:
        One row per customer, sorted by ``customer_id``.
    """
    min_paid = cfg.features.min_paid_invoices
    out = rating_frame(model, features, min_paid_invoices=min_paid)
    reasons = reason_codes(
        explainer(model, len(features)), features, out["rating"], min_paid_invoices=min_paid
    )
    out["reasons"] = [json.dumps(r) for r in reasons]
    out["reason_codes"] = [",".join(x["code"] for x in r) for r in reasons]
    extra = _customers_without_history(tables, out, as_of)
    if extra is not None:
        out = pd.concat([out, extra], ignore_index=True)
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.normalize().astype("datetime64[us]")
    out["model_version"] = str(model_version)
    return out.sort_values("customer_id").reset_index(drop=True)


def score(
    tables: dict[str, pd.DataFrame | None],
    as_of: date | str,
    model,
    cfg: TrainConfig,
    *,
    model_version: str = "local",
    **engine: Any,
) -> pd.DataFrame:
    """Rate every customer as of a date; customers without history are ``unrated``.

    ``engine`` is passed to :func:`payer_model.features.compute` (``engine="spark",
    spark=...`` or a DuckDB ``con``; see :func:`payer_model.features.engine_options`).
    """
    feats = compute(tables, as_of, cfg, **engine)
    return rate_features(tables, feats, as_of, model, cfg, model_version=model_version)


def rated_portfolio(
    tables: dict[str, pd.DataFrame | None],
    as_of: date | str,
    model,
    cfg: TrainConfig,
    *,
    model_version: str = "local",
) -> pd.DataFrame:
    """Ratings merged with the as-of features: what the segment rules and reports read.

    The features are computed once and used both to rate and to merge.
    """
    feats = compute(tables, as_of, cfg)
    ratings = rate_features(tables, feats, as_of, model, cfg, model_version=model_version)
    extra = [c for c in feats.columns if c not in ratings.columns or c == "customer_id"]
    return ratings.merge(feats[extra], on="customer_id", how="left")


def _worst_first(r: dict[str, np.ndarray]) -> np.ndarray:
    """Row order for the reasons: bad, average, good, unrated; likeliest bad first within."""
    rank = {"bad": 0, "average": 1, "good": 2}
    grade = np.asarray([rank.get(x, 3) for x in r["rating"]])
    p_bad = np.nan_to_num(r["p_bad"], nan=0.0)
    return np.lexsort((-p_bad, grade))


def score_to_parquet(
    tables: Any,
    as_of: date | str,
    model,
    cfg: TrainConfig,
    out: str | Path,
    *,
    model_version: str = "local",
    chunk_rows: int = 100_000,
    **engine: Any,
) -> dict[str, Any]:
    """Rate a whole portfolio and stream the ratings with their reasons to one Parquet file.

    Args:
        tables: contract tables, file paths, or a data folder read in place by DuckDB.
        as_of: the as-of date.
        model: a fitted rating model.
        cfg: training config (feature windows, ``min_paid_invoices``).
        out: the Parquet file to write.
        model_version: written into every row.
        chunk_rows: customers explained and written per chunk (bounds the memory).
        **engine: feature engine options (:func:`payer_model.features.engine_options`).

    Returns:
        ``rows``, ``counts`` per rating, ``chunks`` and ``out``. The file holds the columns
        of :func:`score`, worst customers first (bad, average, good by falling ``p_bad``,
        then the unrated).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    min_paid = cfg.features.min_paid_invoices
    feats = compute(tables, as_of, cfg, **engine)
    block = FeatureBlock.of(feats)
    del feats
    r = rate(model, block, min_paid_invoices=min_paid)
    order = _worst_first(r)
    expl = explainer(model, len(order))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    writer = None
    chunks = 0

    def write(frame: pd.DataFrame) -> None:
        nonlocal writer, chunks
        frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.normalize().astype("datetime64[us]")
        frame["model_version"] = str(model_version)
        for k, v in frame["rating"].value_counts().items():
            counts[str(k)] = counts.get(str(k), 0) + int(v)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema)
        writer.write_table(table.cast(writer.schema))
        chunks += 1

    try:
        for start in range(0, len(order), chunk_rows):
            idx = order[start : start + chunk_rows]
            sub = block.take(idx)
            frame = pd.DataFrame(
                {"customer_id": sub["customer_id"], "as_of": sub["as_of"]}
                | {k: v[idx] for k, v in r.items()}
            )
            reasons = reason_codes(expl, sub, frame["rating"], min_paid_invoices=min_paid)
            frame["reasons"] = [json.dumps(x) for x in reasons]
            frame["reason_codes"] = [",".join(x["code"] for x in y) for y in reasons]
            write(frame)
        rated = pd.DataFrame({"customer_id": block["customer_id"]})
        extra = _customers_without_history(tables, rated, as_of)
        if extra is not None:
            for col in ("p_good", "p_average", "p_bad", "p_not_good", "score"):
                extra[col] = np.nan
            write(extra[list(OUTPUT_COLUMNS)])
    finally:
        if writer is not None:
            writer.close()
    return {"rows": sum(counts.values()), "counts": counts, "chunks": chunks, "out": str(out)}
