"""Invoice-level model: P(late), P(more than 30 days late), pay-date distribution, bands.

* **Targets** (:func:`invoice_targets`): for an invoice open at T, observed until
  E = T + H + G (the label window of the customer model, so the same cutoff plan and
  embargo hold): ``late`` = paid more than ``late_tolerance_days`` after due; ``very_late``
  = more than ``very_late_days``; an invoice still unpaid at E is late when E already lies
  past the threshold, and undetermined otherwise (left out of that target). The days to
  payment ``paid_date - T + 1`` are right-censored at ``E - T`` for invoices unpaid at E.
* **Model** (:class:`InvoiceLateModel`): two binary XGBoost boosters, each calibrated on the
  time-later validation slice by :class:`~payer_model.modelling.calibration.Calibrator`, and
  a :class:`~payer_model.modelling.survival.PayTimeModel` for the pay date (median) and its
  central interval. Bands Low / Medium / High from ``invoice.band_thresholds``.

Saved as ``spec.json`` plus UBJSON boosters: no pickle.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from payer_model.config import InvoiceConfig
from payer_model.features.invoice import INVOICE_MODEL_FEATURES
from payer_model.modelling.calibration import Calibrator
from payer_model.modelling.survival import PayTimeModel

log = logging.getLogger(__name__)

KIND = "invoice_late"
BANDS: tuple[str, str, str] = ("Low", "Medium", "High")
PREDICTION_COLUMNS: tuple[str, ...] = (
    "p_late",
    "p_late_30",
    "band",
    "expected_pay_date",
    "pay_date_low",
    "pay_date_high",
    "expected_days_late",
)
_DAY = pd.Timedelta(days=1)
MAX_PAY_DAYS = 3650.0  # a pay date more than ten years out is reported as unknown


def invoice_targets(
    snap: pd.DataFrame, invoices: pd.DataFrame, observation_days: int, cfg: InvoiceConfig
) -> pd.DataFrame:
    """Realised targets of invoice snapshot rows, observed until ``as_of + observation_days``.

    Returns:
        ``snap`` with ``paid_date``, ``obs_end``, ``paid_by_e``, ``days_late`` (paid rows),
        ``late`` / ``very_late`` (1.0, 0.0 or NaN when undetermined at E), ``t_lower`` and
        ``t_upper`` (days from T to payment; ``t_upper`` is inf when censored).
    """
    paid = invoices[["invoice_id", "paid_date"]].copy()
    paid["invoice_id"] = paid["invoice_id"].astype(str)
    paid["paid_date"] = pd.to_datetime(paid["paid_date"]).astype("datetime64[us]")
    out = snap.drop(columns=[c for c in ("paid_date",) if c in snap.columns]).merge(
        paid.drop_duplicates("invoice_id"), on="invoice_id", how="left"
    )
    out["obs_end"] = out["as_of"] + pd.Timedelta(days=observation_days)
    out["paid_by_e"] = out["paid_date"].notna() & (out["paid_date"] < out["obs_end"])
    out["days_late"] = ((out["paid_date"] - out["due_date"]) / _DAY).where(out["paid_by_e"])
    # unpaid at E: paid on E or later, so at least E - due days late
    least_late = (out["obs_end"] - out["due_date"]) / _DAY
    for col, threshold in (
        ("late", cfg.late_tolerance_days),
        ("very_late", cfg.very_late_days),
    ):
        known_late = ~out["paid_by_e"] & (least_late > threshold)
        out[col] = np.where(
            out["paid_by_e"],
            (out["days_late"] > threshold).astype(float),
            np.where(known_late, 1.0, np.nan),
        )
    days_paid = (out["paid_date"] - out["as_of"]) / _DAY + 1.0
    days_obs = (out["obs_end"] - out["as_of"]) / _DAY
    out["t_lower"] = np.where(out["paid_by_e"], days_paid, days_obs).astype(float)
    out["t_upper"] = np.where(out["paid_by_e"], days_paid, np.inf).astype(float)
    return out


def invoice_matrix(snap: pd.DataFrame) -> np.ndarray:
    """The model inputs (``INVOICE_MODEL_FEATURES``) as float32, NaN for unknown."""
    return np.ascontiguousarray(
        snap.reindex(columns=list(INVOICE_MODEL_FEATURES)).to_numpy(dtype=np.float32)
    )


def bands(p: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """Low below the first threshold, High above the second, Medium in between."""
    low, high = thresholds
    p = np.asarray(p, dtype=float)
    return np.where(p > high, BANDS[2], np.where(p >= low, BANDS[1], BANDS[0])).astype(object)


class InvoiceLateModel:
    """Two calibrated binary boosters (late, very late) and a pay-time distribution."""

    kind = KIND

    def __init__(self, cfg: InvoiceConfig | None = None, seed: int = 0) -> None:
        self.cfg = cfg or InvoiceConfig()
        self.seed = seed

    def _binary(self, x, y, xv, yv):
        import xgboost as xgb

        c = self.cfg
        params = {
            **c.params,
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "seed": self.seed,
            "verbosity": 0,
            "tree_method": "hist",
        }
        dval = xgb.DMatrix(xv, label=yv, missing=np.nan)
        booster = xgb.train(
            params,
            xgb.DMatrix(x, label=y, missing=np.nan),
            c.num_boost_round,
            evals=[(dval, "val")],
            early_stopping_rounds=c.early_stopping_rounds,
            verbose_eval=False,
        )
        return booster

    def fit(self, train: pd.DataFrame, val: pd.DataFrame) -> InvoiceLateModel:
        """Fit on target-carrying snapshot rows (:func:`invoice_targets`) of two windows.

        The boosters learn on ``train`` with early stopping on ``val``; calibration and the
        pay-time residual shape come from ``val`` (the time-later slice).
        """
        x, xv = invoice_matrix(train), invoice_matrix(val)
        self.boosters_, self.calibrators_ = [], []
        for target in ("late", "very_late"):
            m, mv = train[target].notna().to_numpy(), val[target].notna().to_numpy()
            booster = self._binary(x[m], train.loc[m, target], xv[mv], val.loc[mv, target])
            raw = self._raw(booster, xv[mv])
            self.boosters_.append(booster)
            self.calibrators_.append(Calibrator().fit(raw, val.loc[mv, target].to_numpy()))
        self.paytime_ = PayTimeModel(
            self.cfg.params, self.cfg.num_boost_round, self.cfg.early_stopping_rounds, self.seed
        ).fit(
            x,
            train["t_lower"].to_numpy(),
            train["t_upper"].to_numpy(),
            xv,
            val["t_lower"].to_numpy(),
            val["t_upper"].to_numpy(),
        )
        return self

    @staticmethod
    def _raw(booster, x: np.ndarray) -> np.ndarray:
        it = (0, int(booster.best_iteration) + 1)
        return np.asarray(booster.inplace_predict(x, iteration_range=it, missing=np.nan))

    def predict_late(
        self, snap: pd.DataFrame, x: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated P(late) and P(very late) per row (``x``: its matrix, when built)."""
        x = invoice_matrix(snap) if x is None else x
        late, very = (
            c.transform(self._raw(b, x))
            for b, c in zip(self.boosters_, self.calibrators_, strict=True)
        )
        return late, np.minimum(very, late)  # more than 30 days late implies late

    def predict(self, snap: pd.DataFrame) -> pd.DataFrame:
        """``PREDICTION_COLUMNS`` per snapshot row (same index), with the keys in front."""
        x = invoice_matrix(snap)
        p_late, p_30 = self.predict_late(snap, x)
        loc = self.paytime_.location(x)
        alpha = (1 - self.cfg.interval) / 2
        t = pd.to_datetime(snap["as_of"]).to_numpy()

        def date_at(q: float) -> pd.Series:
            days = self.paytime_.quantile(np.empty((0, 0)), q, loc=loc)
            offset = np.where(days <= MAX_PAY_DAYS, np.round(days - 1.0), np.nan)
            return pd.Series(t + pd.to_timedelta(offset, unit="D"), index=snap.index)

        out = snap[["invoice_id", "customer_id", "as_of", "due_date"]].copy()
        out["p_late"], out["p_late_30"] = p_late, p_30
        out["band"] = bands(p_late, self.cfg.band_thresholds)
        out["expected_pay_date"] = date_at(0.5)
        out["pay_date_low"] = date_at(alpha)
        out["pay_date_high"] = date_at(1 - alpha)
        out["expected_days_late"] = (out["expected_pay_date"] - out["due_date"]) / _DAY
        return out

    def pay_cdf(self, snap: pd.DataFrame, days: np.ndarray) -> np.ndarray:
        """``P(paid within days[j] of T)`` per row and horizon (rows x len(days))."""
        return self.paytime_.cdf(invoice_matrix(snap), days)

    def save(self, path: str | Path) -> Path:
        """Write ``spec.json`` and the UBJSON boosters into ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        files = []
        for k, booster in enumerate(self.boosters_):
            booster.save_model(path / f"classifier_{k}.ubj")
            files.append(f"classifier_{k}.ubj")
        spec = {
            "kind": self.kind,
            "features": list(INVOICE_MODEL_FEATURES),
            "config": self.cfg.model_dump(mode="json"),
            "classifiers": files,
            "best_iterations": [int(b.best_iteration) for b in self.boosters_],
            "calibrators": [c.to_dict() for c in self.calibrators_],
            "paytime": self.paytime_.save(path),
            "seed": self.seed,
        }
        (path / "spec.json").write_text(json.dumps(spec, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> InvoiceLateModel:
        """Load a saved folder (no pickle).

        Raises:
            ValueError: not an invoice model, or saved with another feature list.
        """
        import xgboost as xgb

        path = Path(path)
        spec = json.loads((path / "spec.json").read_text())
        if spec.get("kind") != KIND:
            raise ValueError(f"{path} holds a {spec.get('kind')!r} model, not {KIND!r}")
        if spec["features"] != list(INVOICE_MODEL_FEATURES):
            raise ValueError("invoice model features do not match this version's feature list")
        m = cls(InvoiceConfig.model_validate(spec["config"]), spec.get("seed", 0))
        m.boosters_ = []
        for name, best in zip(spec["classifiers"], spec["best_iterations"], strict=True):
            b = xgb.Booster()
            b.load_model(str(path / name))
            b.best_iteration = best
            m.boosters_.append(b)
        m.calibrators_ = [Calibrator(c["method"], c["params"]) for c in spec["calibrators"]]
        m.paytime_ = PayTimeModel.load(spec["paytime"], path)
        return m
