"""Lifecycle of an API worker: follow the champion alias, keep ``/metrics`` bounded.

* :func:`follow_alias` polls the registry alias from a daemon thread and lets the engine
  swap a new version in (``promote``, ``rollback`` and a first ``train`` take effect without
  a restart).
* :func:`bound_metric_paths` makes BentoML's request metrics label every path the service
  does not serve as one ``/__other__``: its metrics middleware labels by raw path, so random
  URLs (``GET /x<random>``) otherwise grow every worker's memory and ``/metrics`` without
  bound. That middleware sits in front of every other one, so the path is renamed for it
  and given back by :func:`restore_path` (called by :class:`~payer_model.api.guard.ApiGuard`)
  before routing: the request is still answered for its real path (a 404).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

OTHER_PATH = "/__other__"
_REAL_PATH = "payer_model.real_path"
# Routes BentoML serves besides the service's APIs (probes, metrics, docs and Swagger UI).
SYSTEM_PATHS = frozenset(
    {"/", "/livez", "/readyz", "/healthz", "/metrics", "/docs", "/docs.json", "/metadata"}
)
STATIC_PREFIX = "/static_content/"


def follow_alias(engine: Any, interval_s: float) -> threading.Thread | None:
    """Call ``engine.reload()`` every ``interval_s`` seconds in a daemon thread (0: never)."""
    if interval_s <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                engine.reload()
            except Exception:  # never let the poller die; the engine logs its own errors
                log.exception("model reload check failed")

    thread = threading.Thread(target=loop, name="payer-model-reload", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def known_path(path: str, api_routes: frozenset[str]) -> bool:
    """Whether the service answers ``path`` (its APIs, probes, metrics, docs)."""
    p = path.rstrip("/") or "/"
    return p in api_routes or p in SYSTEM_PATHS or path.startswith(STATIC_PREFIX)


def bound_metric_paths(service: Any) -> bool:
    """Label requests for unknown paths as :data:`OTHER_PATH` in BentoML's metrics.

    Returns False (and logs) when this BentoML version has no such middleware to bound.
    """
    try:  # BentoML has no public hook for the label; its metrics middleware is wrapped
        from bentoml._internal.server.http import instruments
    except ImportError:  # pragma: no cover - another BentoML layout
        log.warning("BentoML metrics middleware not found: /metrics labels are unbounded")
        return False
    routes = frozenset(api.route.rstrip("/") for api in service.apis.values())
    for name in ("RunnerTrafficMetricsMiddleware", "HTTPTrafficMetricsMiddleware"):
        cls = getattr(instruments, name, None)
        if cls is None or getattr(cls, "_payer_bounded", False):
            continue
        original = cls.__call__

        async def bounded(self, scope, receive, send, _original=original) -> None:
            if scope.get("type") == "http" and not known_path(scope.get("path", ""), routes):
                real = (scope.get("path"), scope.get("raw_path"))
                scope = {
                    **scope,
                    "path": OTHER_PATH,
                    "raw_path": OTHER_PATH.encode(),
                    _REAL_PATH: real,
                }
            await _original(self, scope, receive, send)

        cls.__call__ = bounded
        cls._payer_bounded = True
    return True


class OneLineClientErrors(logging.Filter):
    """Log a client's broken body as one line, not BentoML's ERROR with a traceback.

    BentoML logs every pydantic ``ValidationError`` (a 400: the client's mistake) as
    ``Exception on /score [POST]`` with a ~24-line traceback. This filter keeps the record
    but makes it one INFO line with the error count; real exceptions keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ == "ValidationError":
            path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = (
                "400 on %s: %d problem(s) in the request body",
                (
                    path,
                    exc.error_count() if hasattr(exc, "error_count") else 1,
                ),
            )
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


BENTOML_APP_LOGGER = "bentoml._internal.server.http_app"


def quiet_client_errors() -> None:
    """Install :class:`OneLineClientErrors` on BentoML's app logger (once)."""
    logger = logging.getLogger(BENTOML_APP_LOGGER)
    if not any(isinstance(f, OneLineClientErrors) for f in logger.filters):
        logger.addFilter(OneLineClientErrors())


def restore_path(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope with the real path given back after :func:`bound_metric_paths` renamed it."""
    real = scope.get(_REAL_PATH)
    if real is None:
        return scope
    return {**scope, "path": real[0], "raw_path": real[1]}
