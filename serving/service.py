"""BentoML service: a thin HTTP shell over :class:`payer_model.api.engine.ScoringEngine`.

Run with ``payer-model serve`` or ``bentoml serve serving.service:PayerModelService``.
Routes: ``POST /score``, ``POST /segment_policy``, ``GET /metadata``, and the live ledger's
``POST /events``, ``GET /customers/{id}``, ``GET /alerts``, ``/reviews`` (API key required),
BentoML's ``/livez``, ``/readyz`` (503 until a champion is loaded and warmed), ``/metrics``,
``/docs`` and ``/docs.json`` (open). Settings come from ``PAYER_*`` environment variables.
Each worker follows the champion alias (every ``PAYER_RELOAD_INTERVAL_S``) and swaps a new
version in without a restart; ``/readyz`` is 503 while the audit store cannot take writes.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import bentoml

from payer_model.api import lifecycle
from payer_model.api.engine import ApiError, ScoringEngine
from payer_model.api.guard import ApiGuard
from payer_model.api.live import LiveApi
from payer_model.api.models import ScoreRequest
from payer_model.config import Settings

log = logging.getLogger("payer_model.serving")
# The engine of this worker process, for GET /metadata (answered by the middleware).
_ENGINES: list[ScoringEngine] = []
# The live routes (POST /events, GET /customers/{id}, /alerts, /reviews) of this worker,
# answered behind the same guard; attached to the ledger once the engine is loaded.
_LIVE = LiveApi()
# Exceptions past validation (bugs): answered 500 with the request id, counted in /metrics.
INTERNAL_ERRORS = bentoml.metrics.Counter(
    name="payer_internal_errors",
    documentation="requests answered 500: an exception after validation (a bug)",
    labelnames=["endpoint"],
)


@bentoml.service(
    name="payer_model",
    workers=Settings().workers or os.cpu_count() or 1,
    traffic={"timeout": 30, "max_concurrency": Settings().max_concurrency},
)
class PayerModelService:
    """Payer rating and segment-policy API."""

    def __init__(self) -> None:
        settings = Settings()
        self.engine = ScoringEngine(
            settings.tracking_uri,
            audit_db=settings.audit_db,
            policy_path=settings.policy_file,
            alias=settings.model_alias,
            audit_timeout_s=settings.audit_timeout_s,
        )
        self.engine.load()
        _ENGINES.append(self.engine)
        _LIVE.attach(self.engine, settings)
        lifecycle.follow_alias(self.engine, settings.reload_interval_s)

    def __is_ready__(self) -> bool:
        return self.engine.problem() is None

    def _call(self, fn, request: ScoreRequest, ctx: bentoml.Context) -> dict[str, Any]:
        key_id = getattr(ctx.request.state, "key_id", None)
        request_id = uuid.uuid4().hex
        ctx.response.metadata["x-request-id"] = request_id
        try:
            out = fn(request, key_id=key_id, request_id=request_id)
        except ApiError as exc:
            ctx.response.status_code = exc.status
            if exc.status == 500:
                INTERNAL_ERRORS.labels(endpoint=fn.__name__).inc()
            return exc.to_dict() | {"request_id": request_id}
        return out

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, ctx: bentoml.Context, **request: Any) -> dict[str, Any]:
        """Rate 1 to 1,000 customers from their invoice histories."""
        return self._call(self.engine.score, ScoreRequest.model_construct(**request), ctx)

    @bentoml.api(route="/segment_policy", input_spec=ScoreRequest)
    def segment_policy(self, ctx: bentoml.Context, **request: Any) -> dict[str, Any]:
        """Segment, policy, next actions with dates, credit action and worklist priority."""
        return self._call(self.engine.segment_policy, ScoreRequest.model_construct(**request), ctx)


def _metadata() -> dict[str, Any]:
    """``GET /metadata``: model name, version, alias, training window, metrics, policy version."""
    if not _ENGINES:
        return {"ready": False, "error": "the service is starting"}
    return _ENGINES[-1].metadata()


PayerModelService.add_asgi_middleware(ApiGuard, metadata=_metadata, shared=True, live=_LIVE)
lifecycle.bound_metric_paths(PayerModelService)
lifecycle.quiet_client_errors()

# BentoML derives the media type of a dict answer from its output model's JSON schema, on
# every response: a third of a /score request's CPU (py-spy, bench/RESULTS.md). The answers
# are JSON; say so once.
for _api in PayerModelService.apis.values():
    _api.output_spec.media_type = "application/json"
