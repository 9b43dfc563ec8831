"""Level 1: the scoring engine and the service class, called directly (no HTTP)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from serving_helpers import build_request, load_service

from payer_model.api.engine import ApiError, ScoringEngine
from payer_model.api.models import ScoreRequest, ScoreResponse

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serving")]


@pytest.fixture(scope="module")
def engine(champion_store, tmp_path_factory) -> ScoringEngine:
    audit = tmp_path_factory.mktemp("engine-audit") / "audit.db"
    eng = ScoringEngine(champion_store["PAYER_TRACKING_URI"], audit_db=audit)
    assert eng.load(), eng.error
    return eng


def test_score_matches_batch_pipeline(engine, portfolio_tables, as_of):
    """The API and `payer-model score` (pipeline.score) give identical numbers."""
    import pandas as pd

    from payer_model.jobs.score import score

    ids = sorted(set(portfolio_tables["invoices"]["customer_id"]))[:12]  # >= 1 invoice each
    body = build_request(portfolio_tables, ids, as_of)
    got = engine.score(ScoreRequest.model_validate(body))
    ScoreResponse.model_validate(got)
    sub = {
        name: t[t["customer_id"].isin(ids)].reset_index(drop=True)
        for name, t in portfolio_tables.items()
    }
    want = score(sub, as_of, engine.model, engine.cfg, model_version=engine.model_version)
    want = want.set_index("customer_id")
    assert [r["customer_id"] for r in got["results"]] == ids
    for r in got["results"]:
        w = want.loc[r["customer_id"]]
        assert r["rating"] == w["rating"]
        for col in ("p_good", "p_average", "p_bad", "p_not_good", "score"):
            if pd.isna(w[col]):
                assert r[col] is None
            else:
                assert r[col] == pytest.approx(float(w[col]), rel=0, abs=1e-12), col
        assert [x["code"] for x in r["reasons"]] == [x["code"] for x in json.loads(w["reasons"])]
    assert {r["rating"] for r in got["results"]} - {"unrated"}, "some customers are rated"


def test_api_and_batch_score_agree_with_a_non_default_label_config(
    engine, portfolio_tables, as_of, tmp_path
):
    """The label config reaches the API's features (prev_label*) exactly as batch scoring."""
    import yaml

    from payer_model.jobs.score import score

    cfg_file = tmp_path / "train.yaml"
    cfg_file.write_text(
        yaml.safe_dump({"labels": {"horizon_days": 60, "grace_days": 15, "bad_unpaid_share": 0.3}})
    )
    other = ScoringEngine(
        "sqlite:///unused.db",
        audit_db=tmp_path / "audit.db",
        config_path=cfg_file,
        model=engine.model,
        model_version=engine.model_version,
    )
    assert other.load(), other.error
    assert other.cfg.labels.horizon_days == 60
    ids = sorted(set(portfolio_tables["invoices"]["customer_id"]))[:30]
    got = other.score(ScoreRequest.model_validate(build_request(portfolio_tables, ids, as_of)))
    sub = {
        name: t[t["customer_id"].isin(ids)].reset_index(drop=True)
        for name, t in portfolio_tables.items()
    }
    want = score(sub, as_of, engine.model, other.cfg).set_index("customer_id")
    default = score(sub, as_of, engine.model, engine.cfg).set_index("customer_id")
    for r in got["results"]:
        w = want.loc[r["customer_id"]]
        assert r["rating"] == w["rating"]
        if r["p_bad"] is not None:
            assert r["p_bad"] == pytest.approx(float(w["p_bad"]), rel=0, abs=1e-12)
    moved = [
        r["customer_id"]
        for r in got["results"]
        if r["p_bad"] is not None and abs(r["p_bad"] - default.loc[r["customer_id"], "p_bad"]) > 0
    ]
    assert moved, "the label config changed no feature: the test would not see it forgotten"


def test_score_and_policy_are_audited_without_pii(engine, portfolio_tables, as_of):
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[20]
    body = build_request(portfolio_tables, [cid], as_of)
    req = ScoreRequest.model_validate(body)
    out = engine.score(req, key_id="abc123", request_id="req-1")
    pol = engine.segment_policy(req, key_id="abc123", request_id="req-2")
    d = pol["results"][0]
    assert d["segment"] == out["results"][0]["segment"]
    assert {"next_actions", "credit", "priority", "policy"} <= set(d)
    rows = engine.audit.query(customer_id=cid)
    assert {r["request_id"] for r in rows} == {"req-1", "req-2"}
    r = next(r for r in rows if r["request_id"] == "req-1")
    assert r["key_id"] == "abc123" and r["source"] == "api"
    assert r["model_version"] == engine.model_version
    assert r["policy_version"] == engine.policies.policy_version
    assert len(r["payload"]["input_hash"]) == 64
    assert r["payload"]["features"]["inv_n"] > 0
    assert r["payload"]["output"]["rating"] == out["results"][0]["rating"]
    assert r["payload"]["latency_ms"] > 0
    name = portfolio_tables["customers"].set_index("customer_id").loc[cid].get("name")
    if isinstance(name, str):
        assert name not in json.dumps(rows)


def test_known_rating_overrides_model_in_segment_policy(engine, portfolio_tables, as_of):
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[3]
    body = build_request(portfolio_tables, [cid], as_of)
    body["customers"][0] |= {"rating": "bad", "p_bad": 0.9}
    d = engine.segment_policy(ScoreRequest.model_validate(body))["results"][0]
    assert d["rating"] == "bad" and d["p_bad"] == 0.9


def _problems(body):
    from pydantic import ValidationError

    from payer_model.api.models import validation_problems

    with pytest.raises(ValidationError) as exc:
        ScoreRequest.model_validate(body)
    return validation_problems(exc.value.errors())


@pytest.mark.parametrize(
    ("table", "field", "value", "rule", "named"),
    [
        ("invoices", "due_date", "1999-01-01", "due_before_invoice", "due_date"),
        ("invoices", "paid_date", "1999-01-01", "paid_before_invoice", "paid_date"),
        ("invoices", "amount", 0.0, "zero_amount", "amount"),
        ("invoices", "document_type", "credit_note", "positive_amount_on_credit_note", "amount"),
    ],
)
def test_contract_rules_are_checked_at_the_edge(
    portfolio_tables, as_of, table, field, value, rule, named
):
    """The IO models carry the contract's row rules: customer index, field and rule named."""
    cids = sorted(portfolio_tables["invoices"]["customer_id"].unique())[5:7]
    body = build_request(portfolio_tables, cids, as_of)
    body["customers"][1][table][0][field] = value
    (problem,) = _problems(body)
    assert problem["rule"] == rule
    assert problem["customer_index"] == 1 and problem["table"] == table
    assert problem["field"].endswith(named)


def test_ids_and_references_are_checked_at_the_edge(portfolio_tables, as_of):
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[5]
    dup = build_request(portfolio_tables, [cid, cid], as_of)
    assert {p["rule"] for p in _problems(dup)} == {"duplicate_customer_id"}
    body = build_request(portfolio_tables, [cid], as_of)
    body["customers"][0]["payments"] = [
        {"invoice_id": "nope", "payment_date": "2024-01-01", "amount": 1.0}
    ]
    assert _problems(body)[0]["rule"] == "unknown_invoice"


def test_an_exception_past_validation_is_a_500_with_request_id(engine, portfolio_tables, as_of):
    """A bug is not a client error: 500, the request id, one logged traceback, counted."""
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[5]
    req = ScoreRequest.model_validate(build_request(portfolio_tables, [cid], as_of))
    model, before = engine.model, engine.internal_errors
    engine.model = object()  # a broken model: predict_proba is missing
    try:
        with pytest.raises(ApiError) as exc:
            engine.score(req, request_id="req-123")
    finally:
        engine.model = model
    assert exc.value.status == 500
    assert exc.value.detail == {"request_id": "req-123"}
    assert engine.internal_errors == before + 1


def test_pii_fields_are_refused(portfolio_tables, as_of):
    from pydantic import ValidationError

    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[0]
    body = build_request(portfolio_tables, [cid], as_of)
    body["customers"][0]["email"] = "someone@example.org"
    with pytest.raises(ValidationError) as exc:
        ScoreRequest.model_validate(body)
    assert "someone@example.org" not in str(exc.value)


def test_no_champion_is_not_ready_and_503(tmp_path):
    eng = ScoringEngine(
        f"sqlite:///{tmp_path / 'empty' / 'mlflow.db'}", audit_db=tmp_path / "a.db"
    )
    assert eng.load() is False
    assert "champion" in eng.error
    req = ScoreRequest.model_validate(
        {
            "customers": [
                {
                    "customer_id": "C1",
                    "customer_type": "company",
                    "invoices": [
                        {
                            "invoice_id": "I1",
                            "invoice_date": "2025-01-03",
                            "due_date": "2025-02-02",
                            "amount": 1200.0,
                            "paid_date": "2025-02-20",
                        }
                    ],
                }
            ]
        }
    )
    with pytest.raises(ApiError) as exc:
        eng.score(req)
    assert exc.value.status == 503
    assert "run `payer-model train` first" in exc.value.message
    assert eng.metadata()["ready"] is False


def test_corrupt_artifact_is_refused_at_load(champion_store, tmp_path, monkeypatch, caplog):
    """The downloaded bundle is damaged (a copy; the store is untouched): refused, 503."""
    from payer_model.adapters import registry

    real = registry.load_bundle

    def corrupt_then_load(path):
        for f in sorted(p for p in path.iterdir() if p.is_file()):
            f.write_bytes(b"\x00garbage")
        return real(path)

    monkeypatch.setattr(registry, "load_bundle", corrupt_then_load)
    eng = ScoringEngine(champion_store["PAYER_TRACKING_URI"], audit_db=tmp_path / "a.db")
    with caplog.at_level("ERROR"):
        assert eng.load() is False
    assert "unreadable" in eng.error or "not a payer-model bundle" in eng.error
    assert any("not ready" in r.getMessage() for r in caplog.records)


def test_service_class_directly(champion_store, serving_env):
    """BentoML recipe level 1: instantiate the service class and use it without HTTP."""
    svc = load_service()()
    assert svc.__is_ready__() is True
    meta = svc.engine.metadata()
    assert meta["model_alias"] == "champion" and meta["model_version"]
    assert meta["training_window"]["train"]["cutoffs"]
    assert "macro_f1" in meta["metrics"]
    assert np.isfinite(meta["metrics"]["macro_f1"])
