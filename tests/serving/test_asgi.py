"""Level 2: the service's own ASGI app under starlette's TestClient (BentoML recipe)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_helpers import AUTH, KEY, SALT, build_request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from payer_model.api.guard import ApiGuard, hash_key, key_id
from payer_model.api.models import ScoreResponse

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serving")]
A, B = "key-a-0123456789ab", "key-b-0123456789ab"


@pytest.fixture(scope="module")
def body(portfolio_tables, as_of):
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[7]
    return build_request(portfolio_tables, [cid], as_of, n_invoices=20)


def test_probes_and_docs_are_open(client_env):
    # /metrics needs the prometheus setup of `bentoml serve`: checked in test_serve.py
    client, _ = client_env
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    spec = client.get("/docs.json")
    assert spec.status_code == 200
    assert {"/score", "/segment_policy"} <= set(spec.json()["paths"])


def test_score_ok(client_env, body):
    client, _ = client_env
    r = client.post("/score", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out = ScoreResponse.model_validate(r.json())
    assert out.results[0].customer_id == body["customers"][0]["customer_id"]
    assert r.headers["x-request-id"] == out.request_id
    r = client.post("/segment_policy", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["next_actions"] is not None


def test_metadata(client_env):
    client, _ = client_env
    assert client.get("/metadata").status_code == 401
    meta = client.get("/metadata", headers=AUTH).json()
    assert meta["ready"] is True and meta["model_name"] == "payer_rating"
    assert meta["model_version"] and meta["policy_version"] and meta["metrics"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "test-key-1"},
        {"Authorization": "Basic dGVzdA=="},
    ],
)
def test_401_without_valid_key(client_env, body, headers):
    client, _ = client_env
    r = client.post("/score", json=body, headers=headers)
    assert r.status_code == 401
    assert "API key" in r.json()["error"]


def test_400_for_malformed_input(client_env, body):
    client, _ = client_env
    bad_json = client.post(
        "/score", content=b"{not json", headers=AUTH | {"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    pii = json.loads(json.dumps(body))
    pii["customers"][0]["name"] = "Secret Name GmbH"
    r = client.post("/score", json=pii, headers=AUTH)
    assert r.status_code == 400 and "Secret Name" not in r.text
    for broken in (
        {"customers": []},
        {"customers": [{"customer_id": "C1"}]},
        {"as_of": "yesterday", "customers": body["customers"]},
        {"customers": body["customers"], "extra": 1},
    ):
        r = client.post("/score", json=broken, headers=AUTH)
        assert r.status_code == 400, (broken, r.text)
    rule = json.loads(json.dumps(body))
    rule["customers"][0]["invoices"][0]["due_date"] = "1990-01-01"
    r = client.post("/score", json=rule, headers=AUTH)
    assert r.status_code == 400
    (problem,) = r.json()["detail"]
    assert problem["rule"] == "due_before_invoice"
    assert problem["customer_index"] == 0 and problem["table"] == "invoices"
    assert problem["field"].endswith("due_date")


def test_415_and_413(client_env, body):
    client, env = client_env
    r = client.post(
        "/score", content=json.dumps(body), headers=AUTH | {"content-type": "text/plain"}
    )
    assert r.status_code == 415
    big = json.loads(json.dumps(body))
    inv = big["customers"][0]["invoices"]
    big["customers"][0]["invoices"] = (inv * 200)[:4000]
    assert len(json.dumps(big)) > int(env["PAYER_MAX_BODY_BYTES"])
    assert client.post("/score", json=big, headers=AUTH).status_code == 413


def test_audit_rows_equal_successes_under_concurrency(client_env, portfolio_tables, as_of):
    """40 requests over 8 threads: one audit row per customer of every 200, none lost."""
    from payer_model.adapters.audit import AuditStore

    client, env = client_env
    ids = sorted(portfolio_tables["invoices"]["customer_id"].unique())[30:70]
    bodies = [build_request(portfolio_tables, [cid], as_of, n_invoices=20) for cid in ids]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda b: client.post("/score", json=b, headers=AUTH), bodies))
    ok = [r.json()["request_id"] for r in responses if r.status_code == 200]
    assert len(ok) == len(bodies)
    rows = AuditStore(env["PAYER_AUDIT_DB"]).query()
    got = [r["request_id"] for r in rows if r["request_id"] in set(ok)]
    assert sorted(got) == sorted(ok)
    assert {r["key_id"] for r in rows} == {key_id(KEY, SALT.encode())}


# ----------------------------------------------------------------- the guard on its own
def _guarded(**env):
    async def ok(request):
        return JSONResponse({"key_id": request.scope.get("state", {}).get("key_id")})

    inner = Starlette(
        routes=[Route("/score", ok, methods=["POST"]), Route("/livez", ok, methods=["GET"])]
    )
    mp = pytest.MonkeyPatch()
    for k, v in ({"PAYER_AUDIT_KEY_SALT": SALT} | env).items():
        mp.setenv(k, v)
    try:
        return TestClient(ApiGuard(inner))
    finally:
        mp.undo()


def test_429_per_key_token_bucket():
    client = _guarded(
        PAYER_API_KEYS=f"{A},{B}", PAYER_RATE_LIMIT_PER_MIN="6", PAYER_RATE_LIMIT_BURST="3"
    )
    ha, hb = {"Authorization": f"Bearer {A}"}, {"Authorization": f"Bearer {B}"}
    codes = [client.post("/score", json={}, headers=ha).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = client.post("/score", json={}, headers=ha)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert client.post("/score", json={}, headers=hb).status_code == 200  # per key


def test_shared_bucket_is_one_limit_for_every_worker(tmp_path):
    """Two workers (two buckets on one file, as two processes hold them) share one limit."""
    import multiprocessing

    from payer_model.api.guard import SharedTokenBucket

    path = tmp_path / "rl.db"
    one, two = SharedTokenBucket(path, 6, 4), SharedTokenBucket(path, 6, 4)
    waits = [b.take("k") for b in (one, two, one, two, one, two)]
    assert [w == 0.0 for w in waits] == [True] * 4 + [False] * 2
    assert waits[-1] > 0  # says how long until the next token
    assert one.take("other key") == 0.0  # per key
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:  # real processes draw from the same buckets
        got = pool.starmap(_take, [(str(path), "p")] * 10)
    assert sum(w == 0.0 for w in got) == 4


def _take(path: str, key: str) -> float:
    from payer_model.api.guard import SharedTokenBucket

    return SharedTokenBucket(path, 0.6, 4).take(key)  # no refill within the test


def test_keys_file_hashes_only(tmp_path):
    f = tmp_path / "keys"
    f.write_text("# ops keys\nfile-key-1-0123456789\n\nfile-key-2-0123456789  # rotated 2025-01\n")
    client = _guarded(PAYER_API_KEYS_FILE=str(f), PAYER_API_KEYS="")
    guard = client.app
    assert "file-key-1" not in json.dumps(guard.hashes)
    r = client.post("/score", json={}, headers={"Authorization": "Bearer file-key-2-0123456789"})
    assert r.status_code == 200
    assert r.json()["key_id"] == key_id("file-key-2-0123456789", guard.salt)
    assert hash_key("file-key-2-0123456789")[:12] not in r.json()["key_id"]  # salted, not sha
    assert client.post("/score", json={}, headers={"Authorization": "Bearer x"}).status_code == 401


def test_no_keys_configured_refuses_everything():
    client = _guarded(PAYER_API_KEYS="")
    assert client.post("/score", json={}, headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/livez").status_code == 200  # probes open


def test_chunked_oversize_body_is_413():
    client = _guarded(PAYER_API_KEYS=A, PAYER_MAX_BODY_BYTES="100")

    def gen():
        for _ in range(10):
            yield b"x" * 50

    r = client.post(
        "/score",
        content=gen(),
        headers={"Authorization": f"Bearer {A}", "content-type": "application/json"},
    )
    assert r.status_code == 413


# --------------------------------------------------------------- contract-shaped fuzzing

_DAY = st.integers(0, 900).map(lambda d: (date(2023, 1, 1) + timedelta(days=d)).isoformat())
# absurd decision dates (issue 19): a 400 naming as_of, never scored
_AS_OF = st.one_of(_DAY, st.sampled_from(["9999-12-31", "0001-01-01", "1989-12-31"]))
_AMOUNT = st.one_of(
    st.floats(-5e4, 5e4, allow_nan=False), st.sampled_from([0.0, 1e300, 4e38, -4e38, -1e-9, 0.01])
)
_INVOICE = st.fixed_dictionaries(
    {
        "invoice_id": st.sampled_from([f"I{i}" for i in range(8)]),
        "invoice_date": _DAY,
        "due_date": _DAY,
        "amount": _AMOUNT,
    },
    optional={
        "document_type": st.sampled_from(["invoice", "credit_note", "refund"]),
        "paid_date": _DAY,
        "disputed": st.booleans(),
        "dispute_date": _DAY,
        "written_off_date": _DAY,
        "currency": st.sampled_from(["EUR", "usd", "EURO"]),
    },
)
_CUSTOMER = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["C1", "C2", "C3"]),
        "customer_type": st.sampled_from(["company", "sole_trader", "nobody"]),
        "invoices": st.lists(_INVOICE, max_size=6),
    },
    optional={
        "payments": st.lists(
            st.fixed_dictionaries(
                {
                    "invoice_id": st.sampled_from([f"I{i}" for i in range(9)]),
                    "payment_date": _DAY,
                    "amount": _AMOUNT,
                }
            ),
            max_size=3,
        ),
        "reminders": st.lists(
            st.fixed_dictionaries(
                {
                    "invoice_id": st.sampled_from([f"I{i}" for i in range(9)]),
                    "sent_date": _DAY,
                    "channel": st.sampled_from(["email", "sms", "pigeon"]),
                }
            ),
            max_size=3,
        ),
        "credit_limit": st.one_of(st.floats(-10, 1e6, allow_nan=False), st.just(1e308)),
        "rating": st.sampled_from(["good", "bad", "meh"]),
        "p_bad": st.floats(-1, 2, allow_nan=False),
    },
)
_BODY = st.fixed_dictionaries(
    {"customers": st.lists(_CUSTOMER, min_size=1, max_size=3)}, optional={"as_of": _AS_OF}
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_BODY, route=st.sampled_from(["/score", "/segment_policy"]))
def test_contract_shaped_bodies_never_get_a_5xx(client_env, body, route):
    """Mostly-valid histories with broken rules mixed in: 200 or a 400 naming the problem."""
    client, _ = client_env
    r = client.post(route, json=body, headers=AUTH)
    assert r.status_code in (200, 400), (r.status_code, r.text[:500])
    if r.status_code == 400:
        out = r.json()
        assert isinstance(out["error"], str)
        for problem in out.get("detail") or []:
            assert problem["rule"] and "message" in problem
