"""The end-to-end demo job: train, register and promote, then score the portfolio."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from payer_model.config import TrainConfig
from payer_model.jobs.champion import score_portfolio
from payer_model.jobs.train import train

log = logging.getLogger(__name__)

METRICS_FILE = Path("reports/metrics.json")
RATINGS_FILE = Path("reports/ratings.parquet")


def train_and_save(
    tables: dict[str, Any],
    cfg: TrainConfig,
    *,
    tracking_uri: str,
    config_path: Path | None = None,
    out: Path = METRICS_FILE,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the training job and write its metrics as JSON to ``out``.

    Returns:
        The training metrics (:func:`payer_model.jobs.train.train`).
    """
    kwargs = {"progress": progress} if progress is not None else {}
    metrics = train(tables, cfg, tracking_uri=tracking_uri, config_path=config_path, **kwargs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, default=str))
    return metrics


def run_demo(
    tables: dict[str, Any],
    cfg: TrainConfig,
    *,
    tracking_uri: str,
    config_path: Path | None = None,
    metrics_out: Path = METRICS_FILE,
    ratings_out: Path = RATINGS_FILE,
    progress: Callable[[str], None] | None = None,
    invoices: bool = True,
) -> dict[str, Any]:
    """Train (gate and promotion included), then rate the portfolio with the champion.

    With ``invoices`` the invoice model is trained and registered too and the open invoices
    are predicted (:mod:`payer_model.jobs.invoice`).

    Returns:
        ``train`` (the metrics), ``score`` (:func:`~payer_model.jobs.champion.score_portfolio`)
        and ``invoices`` (``metrics`` and ``predictions``) when asked for.
    """
    metrics = train_and_save(
        tables,
        cfg,
        tracking_uri=tracking_uri,
        config_path=config_path,
        out=metrics_out,
        progress=progress,
    )
    chosen = (metrics.get("selection") or {}).get("chosen")
    if chosen:
        # the summary line prints metrics["message"], which names the winner too
        log.info("candidate chosen on validation: %s", chosen)
    if progress is not None:
        progress("loading champion and scoring")
    scored = score_portfolio(tables, cfg, tracking_uri=tracking_uri, out=ratings_out)
    out = {"train": metrics, "score": scored}
    if invoices:
        from payer_model.jobs.invoice import predict_invoices, train_invoices

        if progress is not None:
            progress("training the invoice model")
        inv_metrics = train_invoices(tables, cfg, tracking_uri=tracking_uri)
        fit = inv_metrics.pop("fit")
        inv_metrics["forecast"].pop("weekly", None)  # a frame: the backtest table is in MLflow
        preds = predict_invoices(tables, cfg, model=fit.model, as_of=scored["as_of"])
        out["invoices"] = {"metrics": inv_metrics, "predictions": preds}
    return out
