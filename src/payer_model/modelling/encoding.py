"""Model inputs shared by every rating model: the feature encoder and its helpers.

Numeric features plus one-hot categories in a fixed column order, the training medians used
as the portfolio reference of reason codes, and balanced class weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from payer_model.data.schema import CUSTOMER_TYPES, RATINGS
from payer_model.features import NUMERIC_FEATURES
from payer_model.features.block import FeatureBlock

SPEC_FILE = "spec.json"
_MAX_CATEGORIES = 30
_MIN_CATEGORY_SHARE = 0.01


def _vocabulary(values: pd.Series) -> list[str]:
    share = values.astype(str).value_counts(normalize=True)
    keep = share[share >= _MIN_CATEGORY_SHARE].index[:_MAX_CATEGORIES]
    return sorted(str(v) for v in keep)


class FeatureEncoder:
    """Numeric features plus one-hot categories, as float32 in a fixed column order."""

    def __init__(self, vocab: dict[str, list[str]] | None = None) -> None:
        self.vocab = vocab

    def fit(self, features: pd.DataFrame) -> FeatureEncoder:
        """Learn the industry and country vocabularies from training rows."""
        self.vocab = {
            "customer_type": list(CUSTOMER_TYPES),
            "industry": _vocabulary(features["industry"]),
            "country": _vocabulary(features["country"]),
        }
        return self

    @property
    def columns(self) -> list[str]:
        """Model input column names, in order."""
        assert self.vocab is not None, "encoder not fitted"
        cols = list(NUMERIC_FEATURES)
        for cat, values in self.vocab.items():
            cols += [f"{cat}={v}" for v in values]
        return cols

    def transform(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Float32 matrix (rows x columns); unknown categories are all-zero."""
        assert self.vocab is not None, "encoder not fitted"
        block = FeatureBlock.of(features)
        num = np.empty((len(block), len(NUMERIC_FEATURES)), dtype=np.float32)
        for k, name in enumerate(NUMERIC_FEATURES):
            num[:, k] = block[name]
        parts = [num]
        for cat, values in self.vocab.items():
            col = block[cat].astype(str)
            parts.append(
                (col[:, None] == np.asarray(values, dtype=object)[None, :]).astype(np.float32)
            )
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def feature_reference(features: pd.DataFrame) -> dict[str, float]:
    """Portfolio reference for reason codes: the training median of each numeric feature."""
    med = features[list(NUMERIC_FEATURES)].median(numeric_only=True)
    return {k: float(v) for k, v in med.items() if pd.notna(v)}


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights n / (k * n_class) so rare classes count as much as common ones."""
    counts = np.bincount(y, minlength=len(RATINGS)).astype(float)
    present = counts > 0
    w = np.zeros_like(counts)
    w[present] = len(y) / (present.sum() * counts[present])
    return w[y]
