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
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from payer_model.api.errors import ApiError, clean_value
from payer_model.api.invoices import InvoiceSlot
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
        invoice_model: an already loaded invoice model (tests); otherwise the
            ``invoice_late`` champion is loaded when one is registered (optional: without it
            ``/score`` answers without open invoices).
        audit_timeout_s: how long an audit write waits for another writer before the
            request is refused (503, nothing recorded); well under the client timeout.
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
        invoice_model: Any = None,
        audit_timeout_s: float = 5.0,
    ) -> None:
        from payer_model.adapters.audit import AuditStore
        from payer_model.jobs.inputs import load_training_config
        from payer_model.policy.policies import DEFAULT_POLICY_FILE, load_policies

        self.cfg, _ = load_training_config(config_path)
        self.tracking_uri = tracking_uri
        self.model_name = model_name or self.cfg.registered_model
        self.alias = alias
        self.policies = load_policies(policy_path or DEFAULT_POLICY_FILE)
        self.audit = AuditStore(audit_db, timeout_s=audit_timeout_s)
        self._fixed_model = model is not None
        # what is served, swapped as one tuple so a request sees one consistent model:
        # (model, version label, run id, metadata)
        self._served: tuple[Any, str, str | None, dict[str, Any]] = (
            model,
            model_version,
            None,
            {},
        )
        self.error: str | None = None
        self.ready = False
        self.internal_errors = 0
        self.invoices = InvoiceSlot(invoice_model)
        self._reload_lock = threading.Lock()
        self._configured = False

    @property
    def model(self) -> Any:
        """The model in use (None before the first load)."""
        return self._served[0]

    @model.setter
    def model(self, model: Any) -> None:
        self._served = (model, *self._served[1:])

    @property
    def model_version(self) -> str:
        """Registry version of the model in use."""
        return self._served[1]

    @property
    def run_id(self) -> str | None:
        """Training run of the model in use."""
        return self._served[2]

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> bool:
        """Load the champion (unless a model was given) and warm it; True when ready.

        Never raises: with no champion, an unreachable registry or a corrupt artifact the
        engine stays not ready and :attr:`error` says why (scoring answers 503).
        """
        if self._fixed_model:
            model, version, run_id, _ = self._served
            return self._install(model, version, run_id)
        return self.reload()

    def reload(self) -> bool:
        """Follow the registry alias: load its version when it is not the one in use.

        The new model is loaded and warmed aside, then swapped in at once; requests in
        flight finish on the model they started with. When the alias cannot be read or its
        version is unusable, the model in use keeps serving (the error is logged and shown
        in ``/metadata``). Returns whether a model is ready.
        """
        from payer_model.adapters import registry

        if self._fixed_model:
            return self.ready
        with self._reload_lock:
            try:
                if not self._configured:  # creates the store's schema once, under a lock
                    registry.configure(self.tracking_uri)
                    self._configured = True
                if not self._fixed_model:
                    self.invoices.follow(self.cfg.invoice.registered_model, self.alias)
                mv = registry.alias_version(self.model_name, self.alias)
                if mv is not None and self.ready and str(mv.version) == self.model_version:
                    self.error = None  # nothing new (or rolled back to the version in use)
                    return True
                model, mv = registry.download_bundle(self.model_name, self.alias)
            except registry.RegistryError as exc:
                return self._not_loaded(str(exc))
            except Exception as exc:  # anything else from the store is "unreachable" too
                log.error("model registry unreachable: %s", exc)
                return self._not_loaded(f"model registry unreachable ({type(exc).__name__})")
            return self._install(model, str(mv.version), getattr(mv, "run_id", None))

    def _not_loaded(self, why: str) -> bool:
        """Record why no (new) model was loaded; logged once per reason, not once per poll."""
        if self.ready:  # keep serving the model in use
            error = f"reload failed, serving version {self.model_version}: {why}"
            ready = True
        else:
            error, ready = why, False
        if error != self.error:
            log.error("payer-model API %s", error if ready else f"not ready: {why}")
        self.error = error
        return ready

    def _install(self, model: Any, version: str, run_id: str | None) -> bool:
        """Warm ``model`` aside, then make it the one in use (one assignment)."""
        try:
            meta = self._load_metadata(run_id)
            self._scored(self._warm_request(), model)
        except Exception as exc:
            log.exception("model version %s failed to warm up", version)
            return self._not_loaded(
                f"model version {version} failed to warm up ({type(exc).__name__})"
            )
        previous = self.model_version if self.ready else None
        self._served = (model, version, run_id, meta)
        self.ready, self.error = True, None
        if previous is not None and previous != version:
            log.warning("model swapped: %s version %s -> %s", self.model_name, previous, version)
        log.info("payer-model API ready: %s version %s", self.model_name, version)
        return True

    def problem(self) -> str | None:
        """Why requests cannot be answered now (no model, or an unwritable audit store)."""
        if not self.ready:
            return "model not loaded: " + (self.error or "the service is starting")
        return self.audit.problem()

    @staticmethod
    def _warm_request() -> ScoreRequest:
        return ScoreRequest.model_validate(
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

    @staticmethod
    def _load_metadata(run_id: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"training_window": None, "metrics": None}
        if run_id is None:
            return meta
        try:
            from payer_model.adapters import registry

            m = json.loads(registry.run_artifact_text(run_id, "metrics.json"))
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
            log.warning("could not read metrics.json of run %s: %s", run_id, exc)
        return meta

    def _require_ready(self) -> None:
        if not self.ready:
            raise ApiError(
                503,
                "model not loaded: " + (self.error or "the service is starting"),
            )
        why = self.audit.problem()  # cached probe: an unwritable store refuses up front
        if why is not None:
            raise ApiError(503, f"decision withheld: {why}; nothing was recorded, retry later")

    # ------------------------------------------------------------------ core
    def _scored(
        self, req: ScoreRequest, model: Any
    ) -> tuple[date, list[dict[str, Any]], dict[str, dict]]:
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
        rated = rate(model, block, min_paid_invoices=fc.min_paid_invoices)
        reasons = reason_codes(
            model, block, rated["rating"], min_paid_invoices=fc.min_paid_invoices
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
        version: str,
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
                    "model_version": version,
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
        from payer_model.adapters.audit import AuditUnavailable

        started = time.perf_counter()
        self._require_ready()
        model, version, _, _ = self._served  # one model for the whole request
        request_id = request_id or uuid.uuid4().hex
        as_of, rows, features = self._guard(request_id, self._scored, req, model)
        results = self._guard(request_id, build, req, as_of, rows, version)
        try:
            self._audit(
                req,
                as_of,
                results,
                features,
                endpoint=endpoint,
                request_id=request_id,
                key_id=key_id,
                started=started,
                version=version,
            )
        except AuditUnavailable as exc:  # no record, no answer: the decision is withheld
            raise ApiError(
                503,
                f"decision withheld: {exc}; nothing was recorded, retry later",
                {"request_id": request_id},
            ) from None
        return {
            "request_id": request_id,
            "model_version": version,
            "policy_version": self.policies.policy_version,
            "results": results,
        }

    def _score_results(
        self, req: ScoreRequest, as_of: date, rows: list[dict[str, Any]], version: str
    ) -> list[dict[str, Any]]:
        pv, day = self.policies.policy_version, as_of.isoformat()
        results = [
            {
                "customer_id": row["customer_id"],
                "as_of": day,
                "rating": row["rating"],
                **{k: row[k] for k in _OUTPUTS},
                "reasons": [{k: clean_value(v) for k, v in x.items()} for x in row["reasons"]],
                "segment": self.policies.match(row)[0].name,
                "model_version": version,
                "policy_version": pv,
            }
            for row in rows
        ]
        self.invoices.attach(results, req, as_of, rows)
        return results

    def _policy_results(
        self, req: ScoreRequest, as_of: date, rows: list[dict[str, Any]], version: str
    ) -> list[dict[str, Any]]:
        from payer_model.policy.segment import decide_all

        for row, c in zip(rows, req.customers, strict=True):
            if c.rating is not None:  # a known rating / P(bad) overrides the model's
                row["rating"] = c.rating
            if c.p_bad is not None:
                row["p_bad"] = c.p_bad
        decisions = decide_all(request_tables(req), rows, as_of, self.policies)
        return [d.model_dump(mode="json") | {"model_version": version} for d in decisions]

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
        """Model name, version in use and alias, training window, metrics, policy version."""
        meta = self._served[3]
        return {
            "ready": self.ready,
            "error": self.error,
            "model_name": self.model_name,
            "model_alias": self.alias,
            "model_version": self.model_version if self.model is not None else None,
            "run_id": self.run_id,
            "training_window": meta.get("training_window"),
            "metrics": meta.get("metrics"),
            "audit": self.audit.problem() or "ok",
            "policy_version": self.policies.policy_version,
            "invoice_model_version": self.invoices.version,
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
