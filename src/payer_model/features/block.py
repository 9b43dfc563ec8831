"""Feature rows held as columns (numpy arrays): the frame-free form the model reads.

Batch scoring hands the model a pandas frame and the API an :class:`FeatureBlock` built from
the online features; the encoder, the ratings and the reason codes read both through the
same ``block[column]`` access, so there is one scoring implementation and no pandas on the
request path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FeatureBlock:
    """Named columns of equal length (``FEATURE_COLUMNS`` and possibly more)."""

    columns: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, features: Any) -> FeatureBlock:
        """A block from a pandas frame (columns as arrays, no copy for numbers) or a block."""
        if isinstance(features, FeatureBlock):
            return features
        return cls({str(c): features[c].to_numpy() for c in features.columns})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, rows: np.ndarray | list[int]) -> FeatureBlock:
        """The block restricted to ``rows`` (positions)."""
        idx = np.asarray(rows, dtype=np.intp)
        return FeatureBlock({k: v[idx] for k, v in self.columns.items()})

    def records(self, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """All rows as JSON-ready dicts: Python scalars, NaN as None, dates as ISO text."""
        names = [k for k in self.columns if k not in skip]
        cols = [_json_column(self.columns[k]) for k in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*cols, strict=True)]

    def to_frame(self):
        """The same rows as a pandas frame."""
        import pandas as pd

        return pd.DataFrame(dict(self.columns))


def _json_column(values: np.ndarray) -> list[Any]:
    if values.dtype.kind == "f":
        return [v if math.isfinite(v) else None for v in values.tolist()]
    if values.dtype.kind == "M":
        return [None if v is None else v.date().isoformat() for v in values.tolist()]
    return values.tolist()
