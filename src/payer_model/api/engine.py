"""The scoring engine behind the API: plain Python, no web framework.

The BentoML service (``serving/service.py``) is a thin shell over :class:`ScoringEngine`;
the IO models live in :mod:`payer_model.api.models`. The engine loads the champion once,
warms it, and answers ``/score``, ``/segment_policy`` and ``/metadata`` from one scoring pass
per request: online features, ratings, reasons, segment, one audit commit.

Errors: a request that breaks the contract never gets here (the IO models reject it with
400 at the edge); no champion is 503; an exception past validation is a bug and becomes
:class:`ApiError` 500 with the request id, logged once with its traceback — never a 400.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from payer_model.api.models import (
    MAX_CUSTOMERS,
    MAX_INVOICES,
    ScoreRequest,
    input_hash,
    request_tables,
)
from payer_model.data.schema import UNRATED
from payer_model.modelling.explain import NO_HISTORY_REASON

log = logging.getLogger(__name__)


_OUTPUTS = ("p_good", "p_average", "p_bad", "p_not_good", "score")
_KEYS = ("customer_id", "as_of")
_NO_HISTORY: dict[str, Any] = {
    "rating": UNRATED,
    **dict.fromkeys(_OUTPUTS),
    "reasons": [NO_HISTORY_REASON],
}


class ApiError(Exception):
    """A foreseen failure with its HTTP status and a message safe to return."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """JSON body of the error response."""
        body: dict[str, Any] = {"error": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def _clean(x: Any) -> Any:
    """JSON-safe scalar: NaN/NaT -> None, numpy -> Python (runs per feature: no pandas)."""
    if x is None or type(x).__name__ in ("NaTType", "NAType"):
        return None
    if hasattr(x, "item") and not isinstance(x, str | bytes):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, datetime):
        return x.date().isoformat()
    if isinstance(x, date):
        return x.isoformat()
    return x


class ScoringEngine:
    """Champion model + policies + audit store behind the API (no web framework here).

    Args:
        tracking_uri: MLflow tracking/registry URI holding ``models:/<name>@<alias>``.
        policy_path: segment policy file.
        audit_db: SQLite audit store path.
        model_name: registered model name.
        alias: registry alias to serve.
        config_path: training config (feature windows, default currency); defaults when
            None and ``training/configs/train.yaml`` is absent.
        model: an already loaded model (tests); skips the registry.
        model_version: its version label when ``model`` is given.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        policy_path: str | Path | None = None,
        audit_db: str | Path = "mlflow/audit.db",
        model_name: str | None = None,
        alias: str = "champion",
        config_path: str | Path | None = None,
        model: Any = None,
        model_version: str = "local",
    ) -> None:
        from payer_model.adapters.audit import AuditStore
        from payer_model.jobs.inputs import load_training_config
        from payer_model.policy.policies import DEFAULT_POLICY_FILE, load_policies

        self.cfg, _ = load_training_config(config_path)
        self.tracking_uri = tracking_uri
        self.model_name = model_name or self.cfg.registered_model
        self.alias = alias
        self.policies = load_policies(policy_path or DEFAULT_POLICY_FILE)
        self.audit = AuditStore(audit_db)
        self.model = model
        self.model_version = model_version
        self.run_id: str | None = None
        self.error: str | None = None
        self.ready = False
        self._meta: dict[str, Any] = {}
        self.internal_errors = 0

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> bool:
        """Load the champion (unless a model was given) and warm it; True when ready.

        Never raises: with no champion, an unreachable registry or a corrupt artifact the
        engine stays not ready and :attr:`error` says why (scoring answers 503).
        """
        from payer_model.adapters import registry

        if self.model is None:
            try:
                registry.configure(self.tracking_uri)
                self.model, mv = registry.download_bundle(self.model_name, self.alias)
            except registry.RegistryError as exc:
                self.error = str(exc)
                log.error("payer-model API not ready: %s", exc)
                return False
            except Exception as exc:  # anything else from the store is "unreachable" too
                self.error = f"model registry unreachable: {type(exc).__name__}: {exc}"
                log.error("payer-model API not ready: %s", self.error)
                return False
            self.model_version = str(mv.version)
            self.run_id = getattr(mv, "run_id", None)
        try:
            self._meta = self._load_metadata()
            self._warm()
        except Exception as exc:
            self.error = f"model failed to warm up: {type(exc).__name__}: {exc}"
            log.exception("payer-model API not ready")
            return False
        self.ready, self.error = True, None
        log.info("payer-model API ready: %s version %s", self.model_name, self.model_version)
        return True

    def _warm(self) -> None:
        req = ScoreRequest.model_validate(
            {
                "as_of": "2025-06-01",
                "customers": [
                    {
                        "customer_id": "warmup",
                        "customer_type": "company",
                        "invoices": [
                            {
                                "invoice_id": f"W{i}",
                                "invoice_date": f"2025-0{1 + i % 4}-0{1 + i % 9}",
                                "due_date": f"2025-0{2 + i % 4}-0{1 + i % 9}",
                                "amount": 100.0 + i,
                                "paid_date": f"2025-0{2 + i % 4}-1{i % 9}",
                            }
                            for i in range(8)
                        ],
                    }
                ],
            }
        )
        self._scored(req)

    def _load_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"training_window": None, "metrics": None}
        if self.run_id is None:
            return meta
        try:
            from payer_model.adapters import registry

            m = json.loads(registry.run_artifact_text(self.run_id, "metrics.json"))
            meta["training_window"] = {
                "train": m.get("train_window"),
                "test": m.get("test_window"),
            }
            model_m = m.get("model") or {}
            meta["metrics"] = {
                k: model_m.get(k)
                for k in ("macro_f1", "auc_bad", "ece", "log_loss", "accuracy")
                if k in model_m
            }
        except Exception as exc:  # metadata is informative; missing metrics never block serving
            log.warning("could not read metrics.json of run %s: %s", self.run_id, exc)
        return meta

    def _require_ready(self) -> None:
        if not self.ready:
            raise ApiError(
                503,
                "model not loaded: " + (self.error or "the service is starting"),
            )

    # ------------------------------------------------------------------ core
    def _scored(self, req: ScoreRequest) -> tuple[date, list[dict[str, Any]], dict[str, dict]]:
        """As-of date, one scored row per request customer (in order), features by customer.

        The single private path behind both endpoints. The request was validated at the
        edge (:mod:`payer_model.api.models` carries the contract's row rules), so features
        come from the in-memory online path (:func:`payer_model.features.online.compute_online`,
        held equal to the batch engine by parity tests) and are rated and explained as a
        :class:`~payer_model.features.block.FeatureBlock` by the same functions as batch
        scoring (:func:`~payer_model.modelling.model.rate`, ``reason_codes``): no SQL and no
        pandas per request. A scored row holds the rating, probabilities, score, reasons and
        every feature (what the segment rules read).
        """
        from payer_model.features.block import FeatureBlock
        from payer_model.features.online import compute_online
        from payer_model.modelling.explain import reason_codes
        from payer_model.modelling.model import rate

        if not any(c.invoices for c in req.customers):
            raise ApiError(400, "no invoices in the request: nothing to rate")
        as_of = req.as_of or datetime.now(UTC).date()
        fc = self.cfg.features
        online = compute_online(
            req.customers,
            as_of,
            window_days=fc.window_days,
            trend_days=fc.trend_days,
            labels=self.cfg.labels,
        )
        block = online.block()
        rated = rate(self.model, block, min_paid_invoices=fc.min_paid_invoices)
        reasons = reason_codes(
            self.model, block, rated["rating"], min_paid_invoices=fc.min_paid_invoices
        )
        features = dict(zip(online.customer_ids, block.records(skip=_KEYS), strict=True))
        outputs = FeatureBlock(rated).records()
        position = {cid: j for j, cid in enumerate(online.customer_ids)}
        rows = []
        for c in req.customers:
            j = position.get(c.customer_id)
            if j is None:  # no invoice before the as-of date: kept, unrated, said why
                rows.append({"customer_id": c.customer_id, **_NO_HISTORY})
                continue
            rows.append(
                {
                    "customer_id": c.customer_id,
                    **features[c.customer_id],
                    **outputs[j],
                    "reasons": reasons[j],
                }
            )
        return as_of, rows, features

    def _audit(
        self,
        req: ScoreRequest,
        as_of: date,
        results: list[dict[str, Any]],
        features: dict[str, dict[str, Any]],
        *,
        endpoint: str,
        request_id: str,
        key_id: str | None,
        started: float,
    ) -> None:
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        by_id = {c.customer_id: c for c in req.customers}
        self.audit.record_decisions(
            (
                {
                    "customer_id": r["customer_id"],
                    "as_of": as_of.isoformat(),
                    "segment": r.get("segment"),
                    "policy_version": self.policies.policy_version,
                    "model_version": self.model_version,
                    "reasons": [
                        x["code"] if isinstance(x, dict) else x for x in r.get("reasons", [])
                    ],
                    "request_id": request_id,
                    "key_id": key_id,
                    "payload": {
                        "endpoint": endpoint,
                        "input_hash": input_hash(by_id[r["customer_id"]], as_of),
                        "features": features.get(r["customer_id"], {}),
                        "output": r,
                        "latency_ms": latency_ms,
                    },
                }
                for r in results
            ),
            source="api",
        )

    def _answer(self, endpoint: str, build, req: ScoreRequest, key_id, request_id) -> dict:
        """Score once, build the endpoint's results from the scored rows, audit, answer."""
        started = time.perf_counter()
        self._require_ready()
        request_id = request_id or uuid.uuid4().hex
        as_of, rows, features = self._guard(request_id, self._scored, req)
        results = self._guard(request_id, build, req, as_of, rows)
        self._audit(
            req,
            as_of,
            results,
            features,
            endpoint=endpoint,
            request_id=request_id,
            key_id=key_id,
            started=started,
        )
        return {
            "request_id": request_id,
            "model_version": self.model_version,
            "policy_version": self.policies.policy_version,
            "results": results,
        }

    def _score_results(
        self, req: ScoreRequest, as_of: date, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        del req  # the rows carry all a score answer needs
        pv, day = self.policies.policy_version, as_of.isoformat()
        return [
            {
                "customer_id": row["customer_id"],
                "as_of": day,
                "rating": row["rating"],
                **{k: row[k] for k in _OUTPUTS},
                "reasons": [{k: _clean(v) for k, v in x.items()} for x in row["reasons"]],
                "segment": self.policies.match(row)[0].name,
                "model_version": self.model_version,
                "policy_version": pv,
            }
            for row in rows
        ]

    def _policy_results(
        self, req: ScoreRequest, as_of: date, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        from payer_model.policy.segment import decide_all

        for row, c in zip(rows, req.customers, strict=True):
            if c.rating is not None:  # a known rating / P(bad) overrides the model's
                row["rating"] = c.rating
            if c.p_bad is not None:
                row["p_bad"] = c.p_bad
        decisions = decide_all(request_tables(req), rows, as_of, self.policies)
        return [
            d.model_dump(mode="json") | {"model_version": self.model_version} for d in decisions
        ]

    # ------------------------------------------------------------------ endpoints
    def score(
        self, req: ScoreRequest, *, key_id: str | None = None, request_id: str | None = None
    ) -> dict[str, Any]:
        """Rate every customer of the request (1..1000) as of ``req.as_of``.

        Returns:
            A :class:`ScoreResponse`-shaped dict (plain JSON types).

        Raises:
            ApiError: 400 for input that breaks the contract, 503 when not ready, 500 (with
                the request id) for an exception past validation.
        """
        return self._answer("score", self._score_results, req, key_id, request_id)

    def segment_policy(
        self, req: ScoreRequest, *, key_id: str | None = None, request_id: str | None = None
    ) -> dict[str, Any]:
        """Segment, policy, next actions with dates, credit action and priority per customer.

        A customer's ``rating`` / ``p_bad``, when given, override the model's. The scored
        rows are those of :meth:`score` (one feature pass).

        Returns:
            A :class:`SegmentPolicyResponse`-shaped dict (plain JSON types).

        Raises:
            ApiError: 400 for input that breaks the contract, 503 when not ready, 500 (with
                the request id) for an exception past validation.
        """
        return self._answer("segment_policy", self._policy_results, req, key_id, request_id)

    def metadata(self) -> dict[str, Any]:
        """Model name, version and alias, training window, headline metrics, policy version."""
        return {
            "ready": self.ready,
            "error": self.error,
            "model_name": self.model_name,
            "model_alias": self.alias,
            "model_version": self.model_version if self.model is not None else None,
            "run_id": self.run_id,
            "training_window": self._meta.get("training_window"),
            "metrics": self._meta.get("metrics"),
            "policy_version": self.policies.policy_version,
            "limits": {"customers": MAX_CUSTOMERS, "invoices_per_customer": MAX_INVOICES},
        }

    def _guard(self, request_id: str, fn, *args: Any):
        """Run ``fn`` on validated input; an exception past validation is a bug.

        Client mistakes were answered with 400 at the edge, so anything unforeseen here is
        a 500 carrying the request id, logged once with its traceback and counted
        (``payer_internal_errors_total`` in ``/metrics``) — never disguised as a 400.
        """
        try:
            return fn(*args)
        except ApiError:
            raise
        except Exception:
            self.internal_errors += 1
            log.exception("internal error (request_id=%s)", request_id)
            raise ApiError(
                500,
                "internal error: the service failed on valid input",
                {"request_id": request_id},
            ) from None
