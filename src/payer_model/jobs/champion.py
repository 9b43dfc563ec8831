"""Jobs around the registered champion: load, score, explain one customer, model card.

Each function does one thing a CLI command or a scheduled job asks for and returns a
plain dict (JSON types) that the caller prints or stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from payer_model.adapters import registry
from payer_model.config import TrainConfig
from payer_model.data.schema import ALL_RATINGS
from payer_model.features.labels import data_range
from payer_model.jobs.score import score


def load_champion(cfg: TrainConfig, tracking_uri: str) -> tuple[Any, str]:
    """The champion model of ``cfg.registered_model`` and its version.

    Raises:
        RegistryError: no champion, unreachable store or unreadable artifacts.
    """
    registry.configure(tracking_uri)
    model, mv = registry.download_bundle(cfg.registered_model, registry.CHAMPION)
    return model, str(mv.version)


def default_as_of(tables: dict[str, Any]) -> pd.Timestamp:
    """The day after the last event of the invoices (what is known "now")."""
    return data_range(tables["invoices"])[1]


def score_portfolio(
    tables: dict[str, Any],
    cfg: TrainConfig,
    *,
    tracking_uri: str,
    out: str | Path,
    as_of: str | None = None,
    **engine: Any,
) -> dict[str, Any]:
    """Rate every customer with the champion as of a date; write the ratings as Parquet.

    Args:
        tables: contract tables.
        cfg: training config (registered model name, feature settings).
        tracking_uri: MLflow store holding the champion.
        out: Parquet file for the ratings.
        as_of: cutoff date [the day after the last event].
        **engine: feature engine options (:func:`payer_model.features.engine_options`).

    Returns:
        ``as_of``, ``counts`` per rating, ``out`` and ``model_version``.
    """
    when = pd.Timestamp(as_of) if as_of else default_as_of(tables)
    model, version = load_champion(cfg, tracking_uri)
    ratings = score(tables, when, model, cfg, model_version=version, **engine)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ratings.to_parquet(out, index=False)
    counts = ratings["rating"].value_counts().reindex(list(ALL_RATINGS), fill_value=0)
    return {
        "as_of": str(when.date()),
        "counts": {k: int(v) for k, v in counts.items()},
        "out": str(out),
        "model_version": version,
    }


def _one_customer(tables: dict[str, Any], customer: str) -> dict[str, Any]:
    one = {
        k: (
            v[v["customer_id"].astype(str) == customer]
            if v is not None and "customer_id" in v
            else v
        )
        for k, v in tables.items()
    }
    inv = tables["invoices"]
    one["invoices"] = inv[inv["customer_id"].astype(str) == customer]
    return one


def explain_customer(
    tables: dict[str, Any],
    customer: str,
    as_of: str,
    cfg: TrainConfig,
    *,
    tracking_uri: str,
    source: str = "the data",
) -> dict[str, Any]:
    """A customer's champion rating, probabilities and top reasons as of a date.

    Raises:
        ValueError: the customer is not in ``tables``.
    """
    known = set(tables["invoices"]["customer_id"].astype(str))
    if tables["customers"] is not None:
        known |= set(tables["customers"]["customer_id"].astype(str))
    if customer not in known:
        raise ValueError(f"customer {customer!r} is not in {source}")
    model, version = load_champion(cfg, tracking_uri)
    row = score(
        _one_customer(tables, customer), pd.Timestamp(as_of), model, cfg, model_version=version
    ).iloc[0]
    probs = None
    if row["rating"] != "unrated":
        probs = {k: float(row[k]) for k in ("p_good", "p_average", "p_bad", "score")}
    return {
        "customer_id": customer,
        "as_of": as_of,
        "rating": row["rating"],
        "probabilities": probs,
        "reasons": json.loads(row["reasons"]),
        "model_version": version,
    }


def write_model_card(
    cfg: TrainConfig, *, tracking_uri: str, version: str | None = None, out: Path | None = None
) -> dict[str, Any]:
    """Write the Markdown model card of a registered version (the champion by default).

    Returns:
        ``version`` and ``out`` (the Markdown file).
    """
    from payer_model.modelling.evaluation import model_card

    registry.configure(tracking_uri)
    name = cfg.registered_model
    if version is None:
        mv = registry.alias_version(name, registry.CHAMPION)
        if mv is None:
            raise registry.RegistryError(f"no champion registered under '{name}'")
        version = str(mv.version)
    tags = registry.version_tags(name, version)
    run_id = tags.get("run_id")
    if not run_id:
        raise registry.RegistryError(f"{name} version {version} records no training run")

    def artifact(path: str) -> Any:
        return json.loads(registry.run_artifact_text(run_id, path))

    metrics = artifact("metrics.json")
    metrics["backtest"] = artifact("backtest.json")
    text = model_card(
        metrics,
        version=version,
        name=name,
        features=artifact("features.json"),
        labels=cfg.labels.model_dump(),
        split=artifact("split.json"),
        gate=artifact("gate.json"),
    )
    if tags.get("kind") == "rule":
        text = text.replace("# Model card:", "# Model card (rule rating champion):", 1)
    out = out or Path(f"reports/model_card_v{version}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return {"version": version, "out": str(out)}
