"""Candidate models: chosen on validation only, served through one interface, JSON bundles."""

import numpy as np
import pandas as pd
import pytest

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.features import WORSE_WHEN_HIGHER
from payer_model.features.labels import data_range
from payer_model.modelling.candidates import BlendRatingModel
from payer_model.modelling.explain import reason_codes
from payer_model.modelling.fit import fit_and_evaluate, label_index
from payer_model.modelling.linear import LinearRatingModel
from payer_model.modelling.model import RuleRatingModel, load_bundle, rate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tables():
    return generate_dataset(160, 24, seed=5)


@pytest.fixture(scope="module")
def cfg(tables):
    cfg = TrainConfig()
    # pin the data end so that perturbing late events cannot move the split
    cfg.split.data_end = data_range(tables["invoices"])[1].date()
    return cfg


@pytest.fixture(scope="module")
def fitted(tables, cfg):
    return fit_and_evaluate(tables, cfg)


def _late_after(tables, start: pd.Timestamp, days: int = 60):
    """Every payment on or after ``start`` made ``days`` later: only test labels can move."""
    out = dict(tables)
    inv = tables["invoices"].copy()
    paid = pd.to_datetime(inv["paid_date"])
    inv["paid_date"] = paid.where(paid < start, paid + pd.Timedelta(days=days))
    out["invoices"] = inv
    pay = tables["payments"].copy()
    when = pd.to_datetime(pay["payment_date"])
    out["payments"] = pay.assign(
        payment_date=when.where(when < start, when + pd.Timedelta(days=days))
    )
    return out


def test_selection_uses_the_validation_cutoffs_only(tables, cfg, fitted):
    start = fitted.plan.test[0]
    other = fit_and_evaluate(_late_after(tables, start), cfg)
    # the perturbation is visible: the test window's labels changed ...
    assert not fitted.test["label"].equals(other.test["label"])
    # ... but the candidates, their validation metrics and the choice did not
    assert fitted.metrics["selection"] == other.metrics["selection"]
    assert fitted.metrics["selection"]["chosen"]
    assert set(fitted.metrics["selection"]["validation"]) >= {"xgboost", "linear"}


def test_linear_model_is_monotone_json_and_serves_like_xgboost(fitted, tmp_path):
    train, val = fitted.train, fitted.val
    model = LinearRatingModel().fit(train, label_index(train), val, label_index(val))
    coef = dict(zip(model.encoder_.columns, model.coef_, strict=True))
    assert all(coef[c] >= 0 for c in WORSE_WHEN_HIGHER)
    path = model.save(tmp_path / "linear")
    assert sorted(p.name for p in path.iterdir()) == ["spec.json"]
    back = load_bundle(path)
    test = fitted.test
    np.testing.assert_allclose(back.predict_proba(test), model.predict_proba(test))
    out = rate(back, test)
    assert set(out["rating"]) <= {"good", "average", "bad"}
    reasons = reason_codes(back, test.head(20), out["rating"][:20])
    assert all(1 <= len(r) <= 3 for r in reasons)


def test_blend_roundtrips_without_pickle(fitted, tmp_path):
    train, val = fitted.train, fitted.val
    base = LinearRatingModel().fit(train, label_index(train), val, label_index(val))
    rule = RuleRatingModel(TrainConfig().labels).fit(train, label_index(train))
    blend = BlendRatingModel([base, rule], [0.5, 0.5]).fit(val, label_index(val))
    path = blend.save(tmp_path / "blend")
    assert not list(path.rglob("*.pkl")) and not list(path.rglob("*.pickle"))
    back = load_bundle(path)
    np.testing.assert_allclose(back.predict_proba(fitted.test), blend.predict_proba(fitted.test))
    np.testing.assert_array_equal(
        back.predict_rating(fitted.test), blend.predict_rating(fitted.test)
    )
