"""Issue 19 at levels 1-2: faults met by the engine, the guard and the ASGI app.

The same faults against a real ``bentoml serve`` process are in ``test_serve_faults.py``.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from serving_helpers import AUTH, build_request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from payer_model.adapters.audit import AuditStore, AuditUnavailable
from payer_model.api.engine import ApiError, ScoringEngine
from payer_model.api.guard import ApiGuard
from payer_model.api.models import ScoreRequest
from payer_model.config import ConfigError

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serving")]


@pytest.fixture(scope="module")
def engine(champion_store, tmp_path_factory) -> ScoringEngine:
    audit = tmp_path_factory.mktemp("faults-audit") / "audit.db"
    eng = ScoringEngine(champion_store["PAYER_TRACKING_URI"], audit_db=audit, audit_timeout_s=0.5)
    assert eng.load(), eng.error
    return eng


@pytest.fixture
def client(client_env):
    return client_env[0]


@pytest.fixture(scope="module")
def body(portfolio_tables, as_of):
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[5]
    return build_request(portfolio_tables, [cid], as_of, n_invoices=12)


def _copy(body):
    return json.loads(json.dumps(body))


# ------------------------------------------------------------------ 1. audit store faults
def test_unwritable_audit_store_withholds_the_decision(engine, body, tmp_path):
    """No durable record, no answer: 503 naming the store, nothing handed out."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be")
    broken = ScoringEngine(
        engine.tracking_uri, audit_db=blocker / "audit.db", model=engine.model, model_version="7"
    )
    assert broken.load()
    assert broken.problem() is not None and "audit store" in broken.problem()
    with pytest.raises(ApiError) as exc:
        broken.score(ScoreRequest.model_validate(body))
    assert exc.value.status == 503
    assert "decision withheld" in exc.value.message and str(tmp_path) not in exc.value.message


def test_locked_audit_store_gives_up_before_the_client_and_records_nothing(engine, body):
    """Another writer holds the store past the bounded wait: 503, and no audit row."""
    holder = sqlite3.connect(engine.audit.path, timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ApiError) as exc:
            engine.score(ScoreRequest.model_validate(body), request_id="locked-1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert exc.value.status == 503 and "busy" in exc.value.message
    assert not [r for r in engine.audit.query() if r["request_id"] == "locked-1"]
    out = engine.score(ScoreRequest.model_validate(body), request_id="after-1")
    assert out["request_id"] == "after-1"
    assert [r for r in engine.audit.query() if r["request_id"] == "after-1"]


def test_audit_store_full_or_read_only_is_reported_without_paths(tmp_path):
    store = AuditStore(tmp_path / "file" / "audit.db", timeout_s=0.2)
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditUnavailable) as exc:
        store.record_decisions([{"customer_id": "C1", "as_of": "2025-01-01"}])
    assert "audit store" in str(exc.value) and str(tmp_path) not in str(exc.value)
    assert store.problem() is not None


# ------------------------------------------------------------------ 3. plausible dates
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1989-12-31"])
def test_absurd_as_of_is_400_naming_the_field(client, body, day):
    req = _copy(body) | {"as_of": day}
    r = client.post("/score", json=req, headers=AUTH)
    assert r.status_code == 400, r.text
    (problem,) = r.json()["detail"]
    assert problem["rule"] == "date_out_of_range" and problem["field"] == "as_of"
    assert "1990-01-01" in problem["message"]


def test_absurd_event_date_is_400_naming_the_row(client, body):
    req = _copy(body)
    req["customers"][0]["payments"] = [
        {
            "invoice_id": req["customers"][0]["invoices"][0]["invoice_id"],
            "payment_date": "9999-01-01",
            "amount": 10.0,
        }
    ]
    r = client.post("/score", json=req, headers=AUTH)
    assert r.status_code == 400, r.text
    (problem,) = r.json()["detail"]
    assert problem["rule"] == "date_out_of_range"
    assert (problem["table"], problem["row"], problem["field"]) == ("payments", 0, "payment_date")


# ------------------------------------------------------------------ 5. no bug is a 400
@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        (("invoices", 0, "amount"), 4e38, "amount_out_of_range"),
        (("credit_limit",), 1e308, "less_than_equal"),
    ],
)
def test_huge_numbers_are_refused_at_the_contract(client, body, path, value, rule):
    req = _copy(body)
    target = req["customers"][0]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    r = client.post("/score", json=req, headers=AUTH)
    assert r.status_code == 400, r.text
    assert r.json()["detail"][0]["rule"] == rule


def test_rejected_invoice_with_a_payment_is_a_400_not_a_type_error(client, body):
    req = _copy(body)
    cust = req["customers"][0]
    cust["invoices"][0]["amount"] = 0
    cust["payments"] = [
        {
            "invoice_id": cust["invoices"][0]["invoice_id"],
            "payment_date": cust["invoices"][0]["invoice_date"],
            "amount": 5.0,
        }
    ]
    r = client.post("/segment_policy", json=req, headers=AUTH)
    assert r.status_code == 400, r.text
    assert r.json()["detail"][0]["rule"] == "zero_amount"


def test_a_bad_request_logs_one_line_not_a_traceback(client, body, caplog):
    with caplog.at_level("INFO"):
        r = client.post("/score", json=_copy(body) | {"as_of": "9999-12-31"}, headers=AUTH)
    assert r.status_code == 400
    assert not [rec for rec in caplog.records if rec.exc_info], [
        rec.getMessage() for rec in caplog.records
    ]


def test_customer_without_invoices_is_refused_as_the_schema_says(client, body):
    req = _copy(body)
    req["customers"].append({"customer_id": "EMPTY", "customer_type": "company"})
    r = client.post("/score", json=req, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["detail"][0]["field"] == "invoices"


# ------------------------------------------------------------------ 8. hot reload
def test_engine_follows_the_alias_and_keeps_serving_on_a_bad_version(engine, monkeypatch):
    from payer_model.adapters import registry

    eng = ScoringEngine(engine.tracking_uri, audit_db=engine.audit.path)
    assert eng.load()
    served = eng.model_version
    assert eng.reload() and eng.model_version == served  # nothing new: nothing swapped

    class Moved:
        version = "999"
        run_id = None

    monkeypatch.setattr(registry, "alias_version", lambda *a, **k: Moved)

    def corrupt(*_a, **_k):
        raise registry.RegistryError("models:/payer_rating@champion (version 999) is corrupt")

    monkeypatch.setattr(registry, "download_bundle", corrupt)
    assert eng.reload() is True  # a broken new version never takes the service down
    assert eng.model_version == served and "999" in eng.metadata()["error"]
    monkeypatch.setattr(registry, "download_bundle", lambda *a, **k: (engine.model, Moved))
    assert eng.reload() and eng.metadata()["model_version"] == "999"


# ------------------------------------------------------------------ 9. smaller ones
def _guard_app(**env):
    async def ok(request):
        await request.body()
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/score", ok, methods=["POST"])])
    mp = pytest.MonkeyPatch()
    for k, v in ({"PAYER_AUDIT_KEY_SALT": "s"} | env).items():
        mp.setenv(k, v)
    try:
        return ApiGuard(inner)
    finally:
        mp.undo()


def test_short_api_keys_are_refused_at_start_up():
    with pytest.raises(ConfigError, match="shorter than 16"):
        _guard_app(PAYER_API_KEYS="ab")
    assert _guard_app(PAYER_API_KEYS="a" * 16).hashes


def test_corrupt_model_error_shows_no_path_or_traceback(champion_store, tmp_path, monkeypatch):
    from payer_model.adapters import registry

    def corrupt(path):
        raise ValueError(f"model bundle at {path} is unreadable: Traceback (most recent call)")

    monkeypatch.setattr(registry, "load_bundle", corrupt)
    eng = ScoringEngine(champion_store["PAYER_TRACKING_URI"], audit_db=tmp_path / "a.db")
    assert eng.load() is False
    assert "corrupt or unreadable" in eng.error
    assert (
        "/tmp" not in eng.error
        and "Traceback" not in eng.error
        and "payer-model-" not in eng.error
    )


def test_published_openapi_matches_the_answers(client):
    spec = client.get("/docs.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path in ("/score", "/segment_policy"):
        op = spec["paths"][path]["post"]
        assert op["security"] == [{"bearerAuth": []}]
        assert {"400", "401", "413", "415", "429", "500", "503"} <= set(op["responses"])
        bad = op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
        assert bad.endswith("/BadRequest")
    invoices = spec["components"]["schemas"]["CustomerIn"]["properties"]["invoices"]
    assert invoices["minItems"] == 1
    # the documented 400 is the real one
    r = client.post("/score", json={"customers": []}, headers=AUTH)
    assert r.status_code == 400 and set(r.json()) <= {"error", "detail", "request_id"}
    assert isinstance(r.json()["detail"], list) and r.json()["detail"][0]["rule"]
