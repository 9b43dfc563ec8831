"""/score lists each customer's open invoices with P(late), band and expected pay date,
equal to batch prediction, bounded, and left out on request."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from payer_model.api import invoices as invoices_module
from payer_model.api.engine import ScoringEngine
from payer_model.api.models import ScoreRequest, ScoreResponse
from payer_model.config import InvoiceConfig, TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.features import compute
from payer_model.features.invoice import compute_invoices
from payer_model.jobs.invoice import predict_frame
from payer_model.modelling.invoice_fit import fit_invoice_model
from payer_model.modelling.model import RuleRatingModel

pytestmark = pytest.mark.slow
AS_OF = "2024-05-01"
_spec = importlib.util.spec_from_file_location(
    "serving_helpers_for_invoices", Path(__file__).parents[1] / "serving" / "serving_helpers.py"
)
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = generate_dataset(150, 18, seed=11)
    tables = {k: d[k] for k in ("customers", "invoices", "payments", "reminders")}
    cfg = TrainConfig(invoice=InvoiceConfig(num_boost_round=40))
    inv_model = fit_invoice_model(tables, cfg).model
    feats = compute(tables, AS_OF, cfg)
    y = (feats["wmean_days_late"].fillna(0) > 5).astype(int).to_numpy()
    rule = RuleRatingModel(cfg.labels).fit(feats, y)
    tmp = tmp_path_factory.mktemp("invoice-api")
    eng = ScoringEngine(
        f"sqlite:///{tmp / 'mlflow.db'}",
        audit_db=tmp / "audit.db",
        model=rule,
        invoice_model=inv_model,
    )
    assert eng.load(), eng.error
    return eng, tables, cfg, inv_model


def _request(tables, n=6, **extra):
    ids = sorted(tables["customers"]["customer_id"])[:n]
    body = helpers.build_request(tables, ids, AS_OF) | extra
    return ScoreRequest.model_validate(body)


def test_score_returns_open_invoices_like_batch(setup):
    eng, tables, cfg, inv_model = setup
    got = eng.score(_request(tables))
    ScoreResponse.model_validate(got)
    ids = [r["customer_id"] for r in got["results"]]
    sub = {k: v[v["customer_id"].isin(ids)].reset_index(drop=True) for k, v in tables.items()}
    want = predict_frame(inv_model, compute_invoices(sub, AS_OF, cfg)).set_index("invoice_id")
    seen = 0
    for r in got["results"]:
        invs = r["open_invoices"]
        assert r["open_invoices_total"] == (want["customer_id"] == r["customer_id"]).sum()
        amounts = [i["expected_overdue_amount"] for i in invs]
        assert amounts == sorted(amounts, reverse=True)
        for i in invs:
            w = want.loc[i["invoice_id"]]
            assert i["p_late"] == pytest.approx(w["p_late"], abs=1e-6)
            assert i["band"] == w["band"] and i["band"] in ("Low", "Medium", "High")
            assert i["expected_pay_date"] == w["expected_pay_date"].date().isoformat()
            assert i["pay_date_low"] <= i["expected_pay_date"] <= (i["pay_date_high"] or "9999")
            seen += 1
    assert seen > 0


def test_open_invoices_are_bounded_and_can_be_left_out(setup, monkeypatch):
    eng, tables, _, _ = setup
    monkeypatch.setattr(invoices_module, "MAX_INVOICE_RESULTS", 1)
    got = eng.score(_request(tables))
    assert all(len(r["open_invoices"]) <= 1 for r in got["results"])
    assert any(r["open_invoices_total"] > 1 for r in got["results"])
    off = eng.score(_request(tables, include_invoices=False))
    ScoreResponse.model_validate(off)
    assert all("open_invoices" not in r for r in off["results"])
    assert np.isfinite([r["p_good"] or 0 for r in off["results"]]).all()


def test_without_an_invoice_model_the_answer_is_the_customer_rating(setup, tmp_path):
    eng, tables, _, _ = setup
    plain = ScoringEngine(
        eng.tracking_uri, audit_db=tmp_path / "a.db", model=eng.model, model_version="1"
    )
    assert plain.load()
    got = plain.score(_request(tables, n=2))
    assert all("open_invoices" not in r for r in got["results"])
    assert ScoreResponse.model_validate(got).results[0].open_invoices is None
    assert pd.Timestamp(got["results"][0]["as_of"]) == pd.Timestamp(AS_OF)
