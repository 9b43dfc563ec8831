"""Rating models: XGBoost multiclass and the rule rating, with one interface.

Both follow the estimator contract (``__init__`` stores parameters, fitted attributes end in
``_``, ``fit`` returns ``self``) and save to a folder of JSON + XGBoost UBJSON, never pickle,
so the API can load them safely and fast. :func:`load_bundle` reads either kind back.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from payer_model.config import LabelConfig
from payer_model.data.schema import RATINGS, UNRATED
from payer_model.features import WORSE_WHEN_HIGHER
from payer_model.features.block import FeatureBlock
from payer_model.modelling.baselines import rule_rating
from payer_model.modelling.blend import BlendRatingModel
from payer_model.modelling.calibration import (
    Calibrator,
    CumulativeRating,
    fit_decision,
)
from payer_model.modelling.encoding import (
    SPEC_FILE,
    FeatureEncoder,
    balanced_weights,
    feature_reference,
)
from payer_model.modelling.linear import LinearRatingModel

log = logging.getLogger(__name__)

_SMALL_BATCH = 50_000


class XGBRatingModel(CumulativeRating):
    """Ordinal XGBoost rating: two monotone binary boosters and two thresholds.

    Ratings are ordered (good < average < bad), so the model learns the two cumulative
    probabilities ``A = P(rating >= average)`` and ``B = P(rating = bad)`` with binary
    boosters constrained to be non-decreasing in every lateness and overdue feature
    (``WORSE_WHEN_HIGHER``). The class probabilities are ``(1 - A, A - B, B)`` and the rating
    is ``bad`` when ``B >= tau_bad``, else ``average`` when ``A >= tau_avg``, else ``good``,
    with thresholds chosen on the time-later validation slice. Worse payment history can
    therefore never improve the rating: this holds by construction, not on average.
    """

    kind = "xgboost"

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        num_boost_round: int = 600,
        early_stopping_rounds: int = 40,
        class_weights: str = "balanced",
        seed: int = 0,
    ) -> None:
        self.params = dict(params or {})
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.class_weights = class_weights
        self.seed = seed

    def _monotone(self, columns: list[str]) -> str:
        worse = set(WORSE_WHEN_HIGHER)
        return "(" + ",".join("1" if c in worse else "0" for c in columns) + ")"

    def _fit_one(self, x, target, w, xv, tv, wv, cols):
        import xgboost as xgb

        dtrain = xgb.DMatrix(x, label=target, weight=w, feature_names=cols)
        evals = [(dtrain, "train")]
        if xv is not None:
            evals.append((xgb.DMatrix(xv, label=tv, weight=wv, feature_names=cols), "val"))
        params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "seed": self.seed,
            "nthread": 2,
            "monotone_constraints": self._monotone(cols),
            **self.params,
        }
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=self.num_boost_round,
            evals=evals,
            early_stopping_rounds=self.early_stopping_rounds if len(evals) > 1 else None,
            verbose_eval=False,
        )
        best = getattr(booster, "best_iteration", None)
        best = self.num_boost_round - 1 if best is None else int(best)
        return booster[: best + 1]

    def fit(
        self,
        train: pd.DataFrame,
        y_train: np.ndarray,
        val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
    ) -> XGBRatingModel:
        """Train both boosters with early stopping on validation, then pick thresholds."""
        self.encoder_ = FeatureEncoder().fit(train)
        self.reference_ = feature_reference(train)
        cols = self.encoder_.columns
        x = self.encoder_.transform(train)
        has_val = val is not None and len(val) > 0
        xv = self.encoder_.transform(val) if has_val else None
        balanced = self.class_weights == "balanced"
        w = balanced_weights(y_train) if balanced else None
        wv = balanced_weights(y_val) if balanced and has_val else None
        self.boosters_ = [
            self._fit_one(
                x,
                (y_train >= k).astype(float),
                w,
                xv,
                None if not has_val else (y_val >= k).astype(float),
                wv,
                cols,
            )
            for k in (1, 2)
        ]
        self.best_iteration_ = max(b.num_boosted_rounds() for b in self.boosters_)
        self.calibrators_ = [Calibrator(), Calibrator()]
        self.thresholds_ = (0.5, 0.5)
        if has_val:
            # Class weights skew the raw probabilities; calibrate each booster on the
            # time-later validation slice, then choose thresholds on calibrated values.
            self.calibrators_, self.thresholds_ = fit_decision(self._raw(xv), y_val)
        return self

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [np.asarray(b.inplace_predict(x), dtype=np.float64) for b in self.boosters_]
        )

    def raw_heads(self, features: pd.DataFrame | FeatureBlock) -> np.ndarray:
        """Uncalibrated cumulative probabilities ``(A, B)`` per row."""
        return self._raw(self.encoder_.transform(features))

    def contributions(
        self, features: pd.DataFrame | FeatureBlock, heads: np.ndarray
    ) -> np.ndarray:
        """SHAP contributions (n, columns + bias) of booster ``heads[i]`` for row ``i``.

        Head 0 explains ``P(rating >= average)``, head 1 ``P(bad)``. Each row is explained
        by one head, so each booster runs TreeSHAP only on its own rows (half the work of
        explaining every row with both).
        """
        import xgboost as xgb

        x = self.encoder_.transform(features)
        heads = np.asarray(heads)
        out = np.zeros((len(x), x.shape[1] + 1), dtype=np.float32)
        for k, booster in enumerate(self.boosters_):
            rows = np.flatnonzero(heads == k)
            if len(rows) == 0:
                continue
            # Building a DMatrix starts an OpenMP team: ~16 ms for one row on all cores
            # against 0.2 ms on one thread (measured). Small requests use one thread.
            small = {"nthread": 1} if len(rows) < _SMALL_BATCH else {}
            d = xgb.DMatrix(x[rows], feature_names=self.encoder_.columns, **small)
            out[rows] = booster.predict(d, pred_contribs=True)
        return out

    def save(self, path: str | Path) -> Path:
        """Write ``spec.json`` and one UBJSON file per booster into ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        files = []
        for k, booster in enumerate(self.boosters_):
            name = f"booster_{k}.ubj"
            booster.save_model(path / name)
            files.append(name)
        spec = {
            "kind": self.kind,
            "classes": list(RATINGS),
            "vocab": self.encoder_.vocab,
            "columns": self.encoder_.columns,
            "boosters": files,
            "thresholds": list(self.thresholds_),
            "calibrators": [c.to_dict() for c in self.calibrators_],
            "reference": self.reference_,
            "best_iteration": self.best_iteration_,
            "params": self.params,
            "num_boost_round": self.num_boost_round,
            "seed": self.seed,
        }
        (path / SPEC_FILE).write_text(json.dumps(spec, indent=2))
        return path

    @classmethod
    def from_spec(cls, spec: dict, path: Path) -> XGBRatingModel:
        """Rebuild from a saved folder (no pickle)."""
        import xgboost as xgb

        m = cls(spec.get("params"), spec.get("num_boost_round", 0), seed=spec.get("seed", 0))
        m.encoder_ = FeatureEncoder(spec["vocab"])
        if m.encoder_.columns != spec["columns"]:
            raise ValueError("model columns do not match this version's feature list")
        m.boosters_ = []
        for name in spec["boosters"]:
            booster = xgb.Booster()
            booster.load_model(str(path / name))
            booster.set_param({"nthread": 1})
            m.boosters_.append(booster)
        m.thresholds_ = tuple(spec["thresholds"])
        m.calibrators_ = [Calibrator(c["method"], c["params"]) for c in spec["calibrators"]]
        m.reference_ = spec.get("reference", {})
        m.best_iteration_ = int(spec["best_iteration"])
        return m


class LookupModel:
    """Probabilities P(label | key) learnt on training rows, with Laplace smoothing.

    The predicted rating is the key itself (the baseline's own answer); rows without a key
    fall back to the most frequent training label.
    """

    kind = "lookup"

    def key(self, features: pd.DataFrame) -> pd.Series:
        """The baseline's own rating per row (None where it has no answer)."""
        raise NotImplementedError

    def fit(self, train: pd.DataFrame, y_train: np.ndarray) -> LookupModel:
        """Learn the probability table."""
        keys = self.key(train).fillna("none").astype(str).to_numpy()
        table: dict[str, list[float]] = {}
        for k in [*RATINGS, "none"]:
            counts = np.bincount(y_train[keys == k], minlength=len(RATINGS)) + 1.0
            table[k] = (counts / counts.sum()).tolist()
        prior = np.bincount(y_train, minlength=len(RATINGS)) + 1.0
        self.table_ = table
        self.fallback_ = RATINGS[int(prior.argmax())]
        self.reference_ = feature_reference(train)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Probability rows from the table."""
        keys = self.key(features).fillna("none").astype(str)
        return np.asarray(
            [self.table_.get(k, self.table_["none"]) for k in keys], dtype=float
        ).reshape(len(features), len(RATINGS))

    def predict_rating(self, features: pd.DataFrame) -> np.ndarray:
        """The key, or the fallback rating when the key is missing."""
        return self.key(features).fillna(self.fallback_).astype(str).to_numpy(dtype=object)

    def predict(self, features: pd.DataFrame | FeatureBlock) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities, rating per row); a block is read as a frame here."""
        if isinstance(features, FeatureBlock):
            features = features.to_frame()
        return self.predict_proba(features), self.predict_rating(features)


class RuleRatingModel(LookupModel):
    """The rule rating: 12-month amount-weighted mean days late bucketed at label thresholds."""

    kind = "rule"

    def __init__(self, labels: LabelConfig | None = None) -> None:
        self.labels = labels or LabelConfig()

    def key(self, features: pd.DataFrame) -> pd.Series:
        """Rule bucket per row."""
        return rule_rating(features, self.labels)

    def save(self, path: str | Path) -> Path:
        """Write ``spec.json`` into ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        spec = {
            "kind": self.kind,
            "classes": list(RATINGS),
            "labels": self.labels.model_dump(),
            "table": self.table_,
            "fallback": self.fallback_,
            "reference": self.reference_,
        }
        (path / SPEC_FILE).write_text(json.dumps(spec, indent=2))
        return path

    @classmethod
    def from_spec(cls, spec: dict, path: Path) -> RuleRatingModel:  # noqa: ARG003
        """Rebuild from a saved folder."""
        m = cls(LabelConfig.model_validate(spec["labels"]))
        m.table_ = spec["table"]
        m.fallback_ = spec["fallback"]
        m.reference_ = spec.get("reference", {})
        return m


class PersistenceBaseline(LookupModel):
    """Last period's label (feature ``prev_label``); evaluation only."""

    kind = "persistence"

    def key(self, features: pd.DataFrame) -> pd.Series:
        """The persisted label per row."""
        prev = features["prev_label"].astype(object)
        return prev.where(prev.notna() & (prev != "none"))


def load_bundle(path: str | Path) -> Any:
    """Load a saved model folder of any kind (xgboost, rule, linear, blend).

    Raises:
        ValueError: the folder is not a readable model bundle (message says why).
    """
    path = Path(path)
    spec_file = path / SPEC_FILE
    if not spec_file.exists():
        raise ValueError(f"not a payer-model bundle: {spec_file} is missing")
    try:
        spec = json.loads(spec_file.read_text())
        kind = spec["kind"]
        if kind == XGBRatingModel.kind:
            return XGBRatingModel.from_spec(spec, path)
        if kind == RuleRatingModel.kind:
            return RuleRatingModel.from_spec(spec, path)
        if kind == LinearRatingModel.kind:
            return LinearRatingModel.from_spec(spec, path)
        if kind == BlendRatingModel.kind:
            return BlendRatingModel.from_spec(spec, path, load=load_bundle)
    except Exception as exc:  # corrupt artifacts must be refused with a clear message
        raise ValueError(f"model bundle at {path} is unreadable: {exc}") from None
    raise ValueError(f"unknown model kind {kind!r} in {spec_file}")


def rate(
    model: XGBRatingModel | RuleRatingModel,
    features: pd.DataFrame | FeatureBlock,
    *,
    min_paid_invoices: int = 1,
) -> dict[str, np.ndarray]:
    """Ratings, probabilities, p_not_good (1 - p_good) and 0-100 score per row, as columns.

    Customers with fewer than ``min_paid_invoices`` paid invoices are ``unrated`` (their
    probabilities are left empty): the model has nothing to rate them on.
    """
    proba, rating = model.predict(features)
    out = {
        "rating": np.asarray(rating, dtype=object).copy(),
        "p_good": proba[:, 0].copy(),
        "p_average": proba[:, 1].copy(),
        "p_bad": proba[:, 2].copy(),
    }
    out["p_not_good"] = 1.0 - out["p_good"]
    # Score: expected "goodness" on 0-100, good = 100, average = 50, bad = 0.
    out["score"] = np.round(100 * (out["p_good"] + 0.5 * out["p_average"])).astype(float)
    unrated = np.asarray(FeatureBlock.of(features)["paid_n"]) < min_paid_invoices
    for col in ("p_good", "p_average", "p_bad", "p_not_good", "score"):
        out[col][unrated] = np.nan
    out["rating"][unrated] = UNRATED
    return out


def rating_frame(
    model: XGBRatingModel | RuleRatingModel,
    features: pd.DataFrame,
    *,
    min_paid_invoices: int = 1,
) -> pd.DataFrame:
    """:func:`rate` as a frame with ``customer_id`` and ``as_of`` in front."""
    block = FeatureBlock.of(features)
    return pd.DataFrame(
        {
            "customer_id": block["customer_id"],
            "as_of": block["as_of"],
            **rate(model, block, min_paid_invoices=min_paid_invoices),
        }
    )
