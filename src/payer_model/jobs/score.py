"""Batch scoring job: rate every customer as of a date, with reason codes.

:func:`score` computes the as-of features and rates them; :func:`rated_portfolio` does the
same once and keeps the features next to the ratings (what the segment rules and the
monitoring reports read).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd

from payer_model.config import TrainConfig
from payer_model.data.schema import UNRATED
from payer_model.features import compute
from payer_model.modelling.explain import INSUFFICIENT_HISTORY, NO_HISTORY_REASON, reason_codes
from payer_model.modelling.model import rating_frame


def _customers_without_history(
    tables: dict[str, pd.DataFrame | None], rated: pd.DataFrame, as_of: date | str
) -> pd.DataFrame | None:
    """``unrated`` rows for the customers that have no feature row (no invoice yet)."""
    customers = tables.get("customers")
    if customers is None or not len(customers):
        return None
    missing = sorted(set(customers["customer_id"].astype(str)) - set(rated["customer_id"]))
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
    reasons = reason_codes(model, features, out["rating"], min_paid_invoices=min_paid)
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
