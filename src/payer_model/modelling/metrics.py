"""Classification metrics for the three ratings; undefined metrics are None, never NaN."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, log_loss, precision_score, recall_score, roc_auc_score

from payer_model.data.schema import RATINGS


def _none_if_nan(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(x)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = proba.max(axis=1)
    pred = proba.argmax(axis=1)
    correct = (pred == y).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def multiclass_brier(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean over rows of the squared distance between the probabilities and the one-hot label."""
    onehot = np.eye(proba.shape[1])[y]
    return float(((proba - onehot) ** 2).sum(axis=1).mean())


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, pred: np.ndarray | None = None
) -> dict[str, Any]:
    """All headline metrics for class indices ``y`` and probabilities ``proba`` (n, 3).

    ``pred`` (class indices) defaults to the most probable class; baselines pass their own
    answer so that the rule is scored as the rule.

    Classes absent from ``y`` get None for recall and AUC; macro-F1 averages over the
    classes present in ``y``.
    """
    y = np.asarray(y, dtype=int)
    proba = np.clip(np.asarray(proba, dtype=float), 1e-9, 1)
    proba = proba / proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1) if pred is None else np.asarray(pred, dtype=int)
    labels = list(range(len(RATINGS)))
    present = sorted(set(y.tolist()))
    out: dict[str, Any] = {"n": int(len(y))}
    if len(y) == 0:
        return out | {"macro_f1": None, "auc_bad": None, "log_loss": None}
    out["macro_f1"] = float(f1_score(y, pred, labels=present, average="macro", zero_division=0))
    out["accuracy"] = float((pred == y).mean())
    rec = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    prec = precision_score(y, pred, labels=labels, average=None, zero_division=0)
    out["recall"] = {r: (float(rec[i]) if i in present else None) for i, r in enumerate(RATINGS)}
    out["precision"] = {
        r: (float(prec[i]) if (pred == i).any() else None) for i, r in enumerate(RATINGS)
    }
    auc = {}
    for i, r in enumerate(RATINGS):
        pos = y == i
        auc[r] = _none_if_nan(roc_auc_score(pos, proba[:, i])) if 0 < pos.sum() < len(y) else None
    out["auc"] = auc
    out["auc_bad"] = auc["bad"]
    out["log_loss"] = float(log_loss(y, proba, labels=labels))
    out["brier"] = multiclass_brier(y, proba)
    out["ece"] = expected_calibration_error(y, proba)
    cm = np.zeros((3, 3), dtype=int)
    np.add.at(cm, (y, pred), 1)
    out["confusion"] = cm.tolist()
    out["support"] = {r: int((y == i).sum()) for i, r in enumerate(RATINGS)}
    return out
