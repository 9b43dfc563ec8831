"""Features: defined once (:mod:`.definitions`), computed by three engines.

* :mod:`.batch` — DuckDB SQL, for training and batch scoring;
* :mod:`.spark` — the same SQL rendered for Apache Spark;
* :mod:`.online` — plain Python over in-memory records, for the API.

:func:`compute` is the entry point; parity tests hold the engines equal. It takes in-memory
frames, or a data folder / file paths that DuckDB reads in place (:mod:`.sources`,
:mod:`.duckplan`): the portfolio-scale path, with a one-cutoff plan for scoring and a
multi-cutoff plan for training sets.
"""

from __future__ import annotations

from typing import Any

from payer_model.features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    NUMERIC_FEATURES,
    WORSE_WHEN_HIGHER,
)

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURE_COLUMNS",
    "KEY_COLUMNS",
    "NUMERIC_FEATURES",
    "WORSE_WHEN_HIGHER",
    "Tables",
    "build_features",
    "compute",
    "engine_options",
]

_LAZY = {"Tables", "build_features", "compute", "engine_options"}


def __getattr__(name: str) -> Any:
    # the engines import duckdb/pandas: load them on first use so ``import`` stays light
    if name in _LAZY:
        import importlib

        _dispatch = importlib.import_module("payer_model.features.dispatch")

        return getattr(_dispatch, name)
    raise AttributeError(name)
