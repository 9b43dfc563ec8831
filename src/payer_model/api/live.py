"""The live routes of the API: events in, customer state, alerts and reviews out.

:class:`LiveApi` is a small ASGI app that :class:`~payer_model.api.guard.ApiGuard` hands the
live paths to once the key, the rate limit and the body size are checked, so these routes
share the guard of ``/score``:

* ``POST /events`` — ``{"events": [...], "as_of": "YYYY-MM-DD"?}``: stored idempotently,
  bad events quarantined with their reasons (still 200: the good ones are committed), the
  touched customers rescored and audited.
* ``GET /customers/{customer_id}`` — rating, reasons, segment, invoices at risk, next actions.
* ``GET /alerts?since=YYYY-MM-DD`` — risk-change alerts.
* ``GET /reviews?status=pending`` and ``POST /reviews/{id}/approve|reject`` with
  ``{"by": ..., "why": ...}``.

Client mistakes are 4xx naming the field; an exception past validation is a 500 with the
request id, logged once.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import date
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

MAX_EVENTS = 5000
LIVE_PREFIXES = ("/events", "/customers/", "/alerts", "/reviews")
_REVIEW = re.compile(r"^/reviews/(\d+)/(approve|reject)$")


def is_live_path(path: str) -> bool:
    """Whether a request path is one of the live routes."""
    p = path.rstrip("/") or "/"
    return p in ("/events", "/alerts", "/reviews") or p.startswith(("/customers/", "/reviews/"))


class ClientError(Exception):
    """A 4xx answer with a message that says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _day(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ClientError(400, f"{field}: not a yyyy-mm-dd date") from None


class LiveApi:
    """ASGI app of the live routes over a :class:`~payer_model.jobs.live.LiveLoop`."""

    def __init__(self) -> None:
        self.loop: Any = None
        self.store: Any = None
        self.error: str | None = "the service is starting"
        self._pending: tuple[Any, Any] | None = None

    def attach(self, engine: Any, settings: Any) -> None:
        """Serve the ledger of ``settings`` with the engine's champion (opened on first use).

        A service that never gets a live request never creates a ledger file. Attaching
        again (a new service instance in the same process) starts over.
        """
        if self.store is not None:
            self.store.dispose()
        self.store = self.loop = None
        self.error = "the service is starting"
        self._pending = (engine, settings)

    def _open(self) -> None:
        """Open the ledger; never raises: on failure the live routes answer 503 with why."""
        from payer_model.adapters.ledger import LedgerStore
        from payer_model.jobs.live import Delivery, LiveLoop
        from payer_model.live.rescore import Scorer

        if self._pending is None:
            return
        engine, settings = self._pending
        self._pending = None
        try:
            self.store = LedgerStore(settings.ledger_url)
        except Exception as exc:
            self.error = f"ledger unavailable: {type(exc).__name__}: {exc}"
            log.exception("live routes not ready")
            return
        if not engine.ready:
            self.error = "model not loaded: " + (engine.error or "no champion")
            return
        scorer = Scorer(engine.model, engine.model_version, engine.cfg, engine.policies)
        delivery = Delivery(alert_webhook=settings.alert_webhook)
        self.loop = LiveLoop(self.store, scorer, p_bad_step=settings.alert_p_bad_step,
                             delivery=delivery, audit=engine.audit)  # fmt: skip
        self.error = None

    async def __call__(self, scope, receive, send) -> None:
        """Answer one live request (auth and limits were checked by the guard)."""
        request_id = uuid.uuid4().hex
        try:
            body = b""
            if scope["method"] == "POST":
                message = await receive()
                body = message.get("body", b"")
            status, out = self.handle(scope, body, request_id)
        except ClientError as exc:
            status, out = exc.status, {"error": str(exc)}
        except Exception:
            log.exception("internal error (request_id=%s)", request_id)
            status, out = 500, {"error": "internal error", "detail": {"request_id": request_id}}
        data = json.dumps({**out, "request_id": request_id}, default=str).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
            (b"x-request-id", request_id.encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": data})

    def handle(self, scope, body: bytes, request_id: str) -> tuple[int, dict[str, Any]]:
        """Route a request; returns the status and the JSON answer."""
        path, method = scope["path"].rstrip("/"), scope["method"]
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        key_id = (scope.get("state") or {}).get("key_id")
        if self.store is None:
            self._open()
        if self.store is None:
            raise ClientError(503, self.error or "ledger unavailable")
        if path == "/events" and method == "POST":
            return 200, self._events(body, key_id, request_id)
        if path.startswith("/customers/") and method == "GET":
            return self._customer(path.removeprefix("/customers/"))
        if path == "/alerts" and method == "GET":
            from payer_model.adapters.ledger_work import list_alerts

            return 200, {"alerts": list_alerts(self.store, _day(query.get("since"), "since"))}
        if path == "/reviews" and method == "GET":
            from payer_model.adapters.ledger_work import list_reviews

            status = query.get("status", "pending")
            return 200, {"reviews": list_reviews(self.store, None if status == "all" else status)}
        if (m := _REVIEW.match(path)) and method == "POST":
            return 200, self._review(int(m.group(1)), m.group(2) == "approve", body)
        raise ClientError(405 if is_live_path(path) else 404, f"{method} {path}: no such route")

    def _json(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise ClientError(400, "body: not valid JSON") from None
        if not isinstance(data, dict):
            raise ClientError(400, "body: expected a JSON object")
        return data

    def _events(self, body: bytes, key_id: str | None, request_id: str) -> dict[str, Any]:
        data = self._json(body)
        events = data.get("events")
        if not isinstance(events, list) or not events:
            raise ClientError(400, "events: a non-empty list of events is required")
        if len(events) > MAX_EVENTS:
            raise ClientError(400, f"events: at most {MAX_EVENTS} per request")
        if self.loop is None:
            raise ClientError(503, self.error or "model not loaded")
        out = self.loop.ingest(events, as_of=_day(data.get("as_of"), "as_of"))
        self._audit(out, key_id, request_id)
        return out

    def _audit(self, out: dict[str, Any], key_id: str | None, request_id: str) -> None:
        from payer_model.adapters.ledger_work import load_states

        if not out["rescored"] or self.loop.audit is None:
            return
        rows = load_states(self.store, out["customers"])
        self.loop.audit.record_decisions(
            [{"customer_id": cid, "as_of": s["as_of"].isoformat(), "segment": s["segment"],
              "policy_version": s["policy_version"], "model_version": s["model_version"],
              "reasons": [r.get("code") for r in s["reasons"] if isinstance(r, dict)],
              "request_id": request_id, "key_id": key_id,
              "payload": {"endpoint": "events", "rating": s["rating"], "p_bad": s["p_bad"],
                          "features": s["features"]}}
             for cid, s in rows.items()],
            source="api",
        )  # fmt: skip

    def _customer(self, customer_id: str) -> tuple[int, dict[str, Any]]:
        from payer_model.jobs.live_ops import customer_view

        view = customer_view(self.store, customer_id)
        if view is None:
            raise ClientError(404, f"customer_id {customer_id}: not in the ledger")
        return 200, view

    def _review(self, review_id: int, approve: bool, body: bytes) -> dict[str, Any]:
        from payer_model.jobs.live_ops import decide_review

        data = self._json(body)
        try:
            audit = self.loop.audit if self.loop is not None else None
            return decide_review(self.store, review_id, approve, str(data.get("by") or ""),
                                 str(data.get("why") or ""), audit)  # fmt: skip
        except ValueError as exc:
            raise ClientError(404 if "no pending" in str(exc) else 400, str(exc)) from None
