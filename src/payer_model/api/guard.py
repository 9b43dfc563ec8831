"""ASGI middleware in front of the API: API keys, per-key rate limit, body size, JSON only.

Configuration (environment, read when the app is built):

* ``PAYER_API_KEYS``: comma-separated keys, or ``PAYER_API_KEYS_FILE``: one key per line
  (``#`` comments allowed). Only their sha256 hashes are kept in memory; a presented key is
  hashed and compared with :func:`hmac.compare_digest` against every stored hash. With no key
  configured every protected request is refused (401): the API is never open by accident.
* ``PAYER_RATE_LIMIT_PER_MIN`` (default 600) and ``PAYER_RATE_LIMIT_BURST`` (default a
  tenth of it): a token bucket per key; an empty bucket answers 429 with ``Retry-After``.
* ``PAYER_MAX_BODY_BYTES`` (default 16 MiB): larger bodies answer 413, checked on
  ``Content-Length`` and again while the body streams in.

Probes (``/livez``, ``/readyz``), ``/metrics`` and the docs stay open; only the API routes are
guarded. Keys shorter than ``PAYER_MIN_API_KEY_LENGTH`` (16) are refused at start-up. The key
id passed on (``scope["state"]["key_id"]``, written to the audit) is an HMAC-SHA256 of the
key under a secret salt (``PAYER_AUDIT_KEY_SALT``, else a random salt kept in a file next to
the audit store), never the key and never its plain hash (a weak key could be recovered).
A body that stalls for ``PAYER_BODY_TIMEOUT_S`` answers 408 (a client fault, not a 504).
The live routes (``/events``, ``/customers/{id}``, ``/alerts``, ``/reviews``,
:mod:`payer_model.api.live`) pass the same checks and are answered by the ``live`` app.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from payer_model.api.lifecycle import restore_path
from payer_model.api.live import is_live_path
from payer_model.api.openapi import corrected_body
from payer_model.config import ConfigError, Settings, configured_api_keys

log = logging.getLogger(__name__)

PROTECTED = frozenset({"/score", "/segment_policy", "/metadata"})
JSON_ONLY = frozenset({"/score", "/segment_policy"})


def hash_key(key: str) -> str:
    """sha256 hex digest of an API key."""
    return hashlib.sha256(key.strip().encode()).hexdigest()


def key_id(key: str, salt: bytes) -> str:
    """The audit id of an API key: 16 hex digits of HMAC-SHA256(salt, key)."""
    return hmac.new(salt, key.strip().encode(), hashlib.sha256).hexdigest()[:16]


def key_salt(settings: Settings | None = None) -> bytes:
    """The secret salt of :func:`key_id`: ``PAYER_AUDIT_KEY_SALT``, else a salt file.

    The file (``<audit db>.salt``, created once with 32 random bytes, mode 0600) keeps key
    ids stable across restarts and shared by the workers of a server.
    """
    settings = settings or Settings()
    if settings.audit_key_salt:
        return settings.audit_key_salt.encode()
    path = Path(settings.audit_db).with_suffix(".salt")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            data = path.read_bytes()
            if data:
                return data
            time.sleep(0.01)
        raise ConfigError(f"{path}: empty audit key salt file; delete it") from None
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32).hex().encode())
    return path.read_bytes()


def configured_key_hashes(settings: Settings | None = None) -> list[str]:
    """sha256 hashes of the keys in ``PAYER_API_KEYS`` and ``PAYER_API_KEYS_FILE``.

    Raises:
        ConfigError: a missing keys file or a key shorter than ``PAYER_MIN_API_KEY_LENGTH``
            (:func:`payer_model.config.configured_api_keys`).
    """
    keys = configured_api_keys(settings or Settings())
    if not keys:
        log.warning("no API keys configured: every API call will be refused (401)")
    return [hash_key(k) for k in keys]


class TokenBucket:
    """Thread-safe token buckets keyed by key id."""

    def __init__(self, per_minute: float, burst: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, burst)
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token; 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0


class SharedTokenBucket:
    """The same token buckets kept in a SQLite file, so every worker process draws from one.

    A worker takes a token inside one ``BEGIN IMMEDIATE`` transaction (the file lock makes
    the read-refill-write atomic across processes), so N workers enforce the limit once,
    not N times. The state is a throttle, not a record: no fsync (``synchronous=OFF``).
    """

    def __init__(self, path: str | Path, per_minute: float, burst: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, burst)
        self.path = Path(path)
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=OFF")
            con.execute(
                "CREATE TABLE IF NOT EXISTS buckets "
                "(key TEXT PRIMARY KEY, tokens REAL NOT NULL, ts REAL NOT NULL)"
            )
            self._local.con = con
        return con

    def take(self, key: str) -> float:
        """Take one token; 0.0 when allowed, else the seconds until one is available."""
        con = self._con()
        now = time.time()  # wall clock: comparable across processes
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT tokens, ts FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, last = row if row else (self.capacity, now)
            tokens = min(self.capacity, tokens + max(0.0, now - last) * self.rate)
            allowed = tokens >= 1.0
            left = tokens - 1.0 if allowed else tokens
            con.execute(
                "INSERT INTO buckets (key, tokens, ts) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, ts = excluded.ts",
                (key, left, now),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if allowed:
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0


def server_rate_limit_db() -> Path:
    """Default bucket file of this server: keyed by the parent (the BentoML arbiter) pid."""
    return Path(tempfile.gettempdir()) / f"payer-ratelimit-{os.getppid()}.db"


async def _send_json(send, status: int, body: dict[str, Any], headers=()) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class ApiGuard:
    """Pure ASGI middleware: auth (401), rate limit (429), body size (413), JSON only (415).

    Args:
        app: the wrapped ASGI app.
        metadata: answers ``GET /metadata`` (BentoML API routes are POST only).
        shared: keep the rate-limit buckets in a SQLite file shared by the worker processes
            (``PAYER_RATE_LIMIT_DB``) instead of in this process.
    """

    def __init__(
        self,
        app,
        metadata: Callable[[], dict[str, Any]] | None = None,
        shared: bool = False,
        live: Any = None,
    ) -> None:
        self.app = app
        self.metadata = metadata
        self.live = live  # ASGI app of the live routes (payer_model.api.live), if served
        settings = Settings()
        self.hashes = configured_key_hashes(settings)
        per_min = settings.rate_limit_per_min
        burst = settings.rate_limit_burst or max(1.0, per_min / 10)
        if shared:  # one limit across the worker processes of a server
            path = settings.rate_limit_db or server_rate_limit_db()
            self.bucket: TokenBucket | SharedTokenBucket = SharedTokenBucket(path, per_min, burst)
        else:
            self.bucket = TokenBucket(per_min, burst)
        self.max_body = settings.max_body_bytes
        self.body_timeout = settings.body_timeout_s
        self.salt = key_salt(settings)

    def _key_id(self, headers: dict[bytes, bytes]) -> str | None:
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        presented = hash_key(key)
        found = None
        for h in self.hashes:  # compare against all, no early exit
            if hmac.compare_digest(presented, h):
                found = h
        return key_id(key, self.salt) if found else None

    async def __call__(self, scope, receive, send) -> None:  # noqa: D102, PLR0912 (one flat list of early answers)
        scope = restore_path(scope)
        if scope["type"] == "http" and scope["path"] == "/docs.json":
            await self.app(scope, receive, _rewritten(send, 200, corrected_body))
            return
        live = self.live is not None and scope["type"] == "http" and is_live_path(scope["path"])
        if not live and (scope["type"] != "http" or scope["path"].rstrip("/") not in PROTECTED):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key_id = self._key_id(headers)
        if key_id is None:
            await _send_json(
                send,
                401,
                {"error": "missing or invalid API key (send 'Authorization: Bearer KEY')"},
                [(b"www-authenticate", b"Bearer")],
            )
            return
        wait = self.bucket.take(key_id)
        if wait > 0:
            await _send_json(
                send,
                429,
                {"error": "rate limit exceeded for this API key", "retry_after_s": round(wait, 2)},
                [(b"retry-after", str(max(1, round(wait))).encode())],
            )
            return
        if scope["method"] == "POST" and (live or scope["path"].rstrip("/") in JSON_ONLY):
            ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
            if ctype.lower() != "application/json":
                await _send_json(send, 415, {"error": "send the body as application/json"})
                return
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await _send_json(send, 413, {"error": f"request body over {self.max_body} bytes"})
                return
        if scope["method"] == "GET" and scope["path"].rstrip("/") == "/metadata":
            if self.metadata is None:
                await _send_json(send, 404, {"error": "no metadata"})
            else:
                await _send_json(send, 200, self.metadata())
            return
        state = scope.setdefault("state", {})
        state["key_id"] = key_id
        # Buffer the body (bounded) before the app sees it: an oversized or chunked body is
        # refused here with 413 instead of failing inside the framework.
        chunks, received, more = [], 0, True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                await _send_json(
                    send,
                    408,
                    {"error": f"request body stalled for {self.body_timeout:g} s: send it whole"},
                    [(b"connection", b"close")],
                )
                return
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_body:
                await _send_json(send, 413, {"error": f"request body over {self.max_body} bytes"})
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replay = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        sent = False

        async def replay_receive():
            nonlocal sent
            if not sent:
                sent = True
                return replay
            return await receive()

        if live:
            await self.live(scope, replay_receive, send)
            return
        await self.app(scope, replay_receive, _rewritten(send, 400, _restated))


def _rewritten(send, status: int, rewrite: Callable[[bytes], bytes]):
    """``send`` that passes the body of a ``status`` answer through ``rewrite``.

    Used for the framework's 400 for a body breaking the IO models: BentoML validates the
    body once against :class:`~payer_model.api.models.ScoreRequest` (which carries the
    contract's row rules) and answers with pydantic's error list; :func:`_restated` names
    customer index, table, row, field and rule instead, so a client reads what to fix
    without knowing pydantic. And for ``/docs.json``, corrected to what the guard answers.
    """
    held: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def wrapped(message) -> None:
        if message["type"] == "http.response.start" and message["status"] == status:
            held["start"] = message
            return
        if "start" not in held or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = rewrite(b"".join(chunks))
        headers = [(k, v) for k, v in held["start"].get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**held["start"], "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped


def _restated(body: bytes) -> bytes:
    from payer_model.api.models import validation_problems

    try:
        data = json.loads(body)
        errors = data["detail"]
        if not (isinstance(errors, list) and all("loc" in e for e in errors)):
            return body
    except (ValueError, TypeError, KeyError):
        return body  # not a validation answer: leave it as it is
    problems = validation_problems(errors)
    return json.dumps(
        {
            "error": f"{len(problems)} problem(s) in the request: fix them and resend",
            "detail": problems,
        }
    ).encode()
