"""The live loop: events in, touched customers rescored, alerts out, the outbox planned and sent.

:class:`LiveLoop` composes the ledger store (:mod:`payer_model.adapters.ledger`), the pure
live core (:mod:`payer_model.live`) and delivery (:mod:`payer_model.adapters.delivery`):

* :meth:`LiveLoop.ingest`: one batch of events -> store (bad ones quarantined, replays
  skipped) -> the pending messages of paid, disputed or promised invoices cancelled -> only
  the touched customers rescored with the online path -> alerts for the ones that moved.
* :meth:`LiveLoop.refresh`: the daily job; time passing ages open invoices, so every
  customer is rescored as of the new date, then the messages due that day are planned.
* :meth:`LiveLoop.send`: pending messages due by a date go out (SMTP for email, the
  webhook otherwise); each delivery is recorded as a ``reminder_sent`` event and in the
  audit store by message id and text hash only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from payer_model.adapters import ledger_work as work
from payer_model.adapters.ledger import LedgerStore
from payer_model.live.notify import has_due_reminder, outbox_messages, risk_alert, text_hash
from payer_model.live.rescore import Scorer, score_state
from payer_model.live.tables import frames_from_columns, records_from_columns

log = logging.getLogger(__name__)

CLOCK_KEY = "as_of"
BATCH_CUSTOMERS = 5000
"""Customers rescored per pass (bounded memory on a refresh of a large ledger)."""
FEW_CUSTOMERS = 50
"""Up to this many customers are rescored from their rows without pandas (events)."""


@dataclass
class Delivery:
    """Where messages and alerts go (all optional)."""

    smtp_host: str | None = None
    smtp_port: int = 25
    sender: str = "collections@localhost"
    outbox_webhook: str | None = None
    alert_webhook: str | None = None


def default_clock() -> date:
    """Tomorrow (UTC): everything dated today is known."""
    return datetime.now(UTC).date() + timedelta(days=1)


class LiveLoop:
    """The ledger, the scorer and the delivery settings of one live portfolio.

    Args:
        store: the ledger store.
        scorer: model, config and policies (:func:`open_loop` builds it from the champion).
        p_bad_step: a rise of P(bad) above this raises an alert.
        delivery: SMTP and webhook targets.
        audit: an :class:`~payer_model.adapters.audit.AuditStore` for deliveries and reviews.
        collectors: collector names; a refresh assigns unassigned customers to them.
        capacity: customers per collector.
    """

    def __init__(
        self,
        store: LedgerStore,
        scorer: Scorer,
        *,
        p_bad_step: float = 0.10,
        delivery: Delivery | None = None,
        audit: Any = None,
        collectors: Sequence[str] = (),
        capacity: int = 200,
    ) -> None:
        self.collectors = tuple(collectors)
        self.capacity = capacity
        self.store = store
        self.scorer = scorer
        self.p_bad_step = p_bad_step
        self.delivery = delivery or Delivery()
        self.audit = audit
        self._planned = 0

    # ------------------------------------------------------------------ clock
    def clock(self) -> date:
        """The ledger's as-of: the last refresh date, else tomorrow (UTC)."""
        value = self.store.get_meta(CLOCK_KEY)
        return date.fromisoformat(value) if value else default_clock()

    # ------------------------------------------------------------------ events
    def ingest(self, raw_events: Sequence[Any], *, as_of: date | None = None) -> dict[str, Any]:
        """Store one batch of events and rescore the customers it touched.

        Args:
            raw_events: raw events (dicts from JSON, CSV or :mod:`payer_model.live.convert`).
            as_of: the rescoring date [the ledger's clock].

        Returns:
            Counts (accepted, duplicates, quarantined, rescored, alerts, cancelled messages),
            the rescored customer ids and the quarantined events with their reasons.
        """
        res = self.store.append(raw_events)
        cancelled = work.cancel_messages(
            self.store, res.stopped_invoices, "stopped by a payment, dispute or promise to pay"
        )
        day = as_of or self.clock()
        self._audit_messages(cancelled, day, "cancelled")
        alerts = self.rescore(res.customers, day)
        return {
            **res.summary(),
            "as_of": day.isoformat(),
            "rescored": len(res.customers),
            "customers": sorted(res.customers),
            "alerts": len(alerts),
            "cancelled_messages": len(cancelled),
        }

    def rescore(
        self, causes: Mapping[str, Sequence[str]], as_of: date, *, plan_on: date | None = None
    ) -> list[dict]:
        """Rescore customers; store their state, new alerts and review items.

        Args:
            causes: customer id -> ids of the events that made it change.
            as_of: the scoring date.
            plan_on: also plan the outbox messages of these customers due on or before this
                day, from the rows already read (the refresh does).

        Returns:
            The alerts added (duplicates of stored ones are not).
        """
        added: list[dict] = []
        ids = sorted(causes)
        self._planned = 0
        for k in range(0, len(ids), BATCH_CUSTOMERS):
            part = ids[k : k + BATCH_CUSTOMERS]
            if plan_on is None and len(part) <= FEW_CUSTOMERS:  # no pandas for an event
                frames = None
                rows = score_state(None, as_of, self.scorer, rows=self.store.rows(part))
            else:  # many customers: read by column, decide the portfolio in one pass
                cols = self.store.columns(part)
                frames = frames_from_columns(cols)
                rows = score_state(frames, as_of, self.scorer, records_from_columns(cols))
            before = work.load_states(self.store, part)
            alerts = [
                a
                for r in rows
                if (
                    a := risk_alert(
                        before.get(r["customer_id"]),
                        r,
                        p_bad_step=self.p_bad_step,
                        event_ids=causes.get(r["customer_id"], ()),
                    )
                )  # fmt: skip
            ]
            added += work.save_rescored(self.store, rows, alerts, review_items(rows))
            if frames is not None and plan_on is not None:
                states = {r["customer_id"]: r for r in rows}
                self._planned += self._plan_messages(outbox_messages(states, frames, plan_on),
                                                     plan_on)  # fmt: skip
        self._post_alerts(added)
        return added

    def _post_alerts(self, alerts: list[dict]) -> None:
        if not alerts or not self.delivery.alert_webhook:
            return
        from payer_model.adapters.delivery import DeliveryError, post_json

        try:
            post_json(self.delivery.alert_webhook, {"alerts": alerts})
        except DeliveryError as exc:  # the alerts are stored; the hook can catch up
            log.warning("alert webhook failed: %s", exc)

    def refresh(self, as_of: date) -> dict[str, Any]:
        """The daily job: rescore every customer as of ``as_of`` and plan the due messages.

        Time passing changes every customer's features (ageing, windows), so each customer
        is rescored unless its state is already as of ``as_of`` with the same model and
        policy versions (events rescore their customers when they arrive): a second refresh
        of the same day rescores nobody.

        Returns:
            Customers rescored, alerts added, messages planned, the new as-of.
        """
        from payer_model.jobs.live_ops import assign_collectors

        want = (as_of, self.scorer.model_version, self.scorer.policies.policy_version)
        done = work.state_versions(self.store)
        every = self.store.customer_ids()
        ids = [c for c in every if done.get(c) != want]
        alerts = self.rescore(dict.fromkeys(ids, ()), as_of, plan_on=as_of)
        self.store.set_meta(CLOCK_KEY, as_of.isoformat())
        planned = self._planned  # the rescored ones were planned from the rows just read
        fresh = set(ids)
        rest = [c for c in every if c not in fresh]
        if rest:
            planned += self.plan(as_of, rest)
        moved = assign_collectors(self.store, self.collectors, self.capacity)
        return {"as_of": as_of.isoformat(), "rescored": len(ids), "alerts": len(alerts),
                "planned_messages": planned, "assigned": len(moved)}  # fmt: skip

    # ------------------------------------------------------------------ outbox
    def plan(self, on: date, customer_ids: Iterable[str] | None = None) -> int:
        """Render the reminders due on or before ``on`` into the outbox; returns how many.

        Each new message is in the audit store (message id and text hash, never the text).
        """
        states = work.load_states(self.store, customer_ids)
        due = [c for c, s in states.items() if has_due_reminder(s, on)]
        if not due:
            return 0
        return self._plan_messages(outbox_messages(states, self.store.tables(due), on), on)

    def _plan_messages(self, messages: list[dict[str, Any]], on: date) -> int:
        added = work.plan_messages(self.store, messages)
        self._audit_messages(added, on, "planned")
        return len(added)

    def send(self, on: date) -> dict[str, Any]:
        """Deliver the pending messages due on or before ``on``; record each delivery.

        Email goes by SMTP to the customer's contact address (failed when it has none);
        other channels go to the outbox webhook. Messages without a configured route stay
        pending.

        Returns:
            Counts of sent, failed and left pending messages.
        """
        from payer_model.adapters.delivery import DeliveryError, post_json, send_email

        counts = {"sent": 0, "failed": 0, "pending": 0}
        events = []
        d = self.delivery
        for m in work.list_messages(self.store, due_on=on, status="pending"):
            try:
                if m["channel"] == "email" and d.smtp_host:
                    to = self.store.contact(m["customer_id"])
                    if not to:
                        raise DeliveryError(f"message {m['message_id']}: no contact email")
                    send_email(d.smtp_host, d.smtp_port, d.sender, to, m["text"], m["message_id"])
                elif d.outbox_webhook:
                    post_json(d.outbox_webhook, {k: m[k] for k in _HOOK_FIELDS})
                else:
                    counts["pending"] += 1
                    continue
            except DeliveryError as exc:
                work.mark_message(self.store, m["message_id"], "failed", str(exc))
                counts["failed"] += 1
                continue
            work.mark_message(self.store, m["message_id"], "sent")
            counts["sent"] += 1
            events += _sent_events(m, on)
            self._audit_messages([m], on, "sent")
        if events:
            self.ingest(events, as_of=self.clock())
        return counts

    def _audit_messages(self, messages: Sequence[Mapping[str, Any]], on: date, what: str) -> None:
        """Planned, cancelled and sent messages in the audit store: ids and text hash only."""
        if self.audit is None or not messages:
            return
        self.audit.record_decisions(
            [{"customer_id": m["customer_id"], "as_of": on.isoformat(),
              "policy_version": m.get("policy_version"),
              "reasons": [f"message {m['channel']} {what}"],
              "payload": {"message_id": m["message_id"], "status": what,
                          "channel": m["channel"], "invoice_ids": m.get("invoice_ids"),
                          "text_sha256": text_hash(m["text"]) if m.get("text") else None}}
             for m in messages],
            source="outbox",
        )  # fmt: skip


_HOOK_FIELDS = ("message_id", "customer_id", "invoice_ids", "channel", "tone", "text", "due_date")


def _sent_events(m: Mapping[str, Any], on: date) -> list[dict[str, Any]]:
    """One ``reminder_sent`` event per invoice of a delivered message."""
    return [
        {
            "event_id": f"sent:{m['message_id']}:{iid}",
            "type": "reminder_sent",
            "customer_id": m["customer_id"],
            "invoice_id": iid,
            "sent_date": on.isoformat(),
            "channel": m["channel"],
            "tone": m["tone"],
            "template": f"{m['tone']}_{m['channel']}",
            "message_id": m["message_id"],
        }
        for iid in m["invoice_ids"]
    ]


def review_items(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Credit actions that wait for a person (natural persons' holds and reductions)."""
    import hashlib

    out = []
    for r in rows:
        credit = (r.get("decision") or {}).get("credit") or {}
        if not credit.get("requires_human_review"):
            continue
        key = f"{r['customer_id']}|{credit.get('action')}|{r['as_of']}"
        out.append(
            {
                "review_key": hashlib.sha256(key.encode()).hexdigest()[:32],
                "customer_id": r["customer_id"],
                "as_of": r["as_of"],
                "action": str(credit.get("action")),
                "details": credit,
            }
        )
    return out


def open_loop(settings: Any = None, *, model: Any = None, model_version: str = "local",
              config_path: Any = None, policy_path: Any = None) -> LiveLoop:  # fmt: skip
    """A :class:`LiveLoop` from the settings: the ledger URL, the champion, the policies.

    The champion is loaded from the registry as the API does
    (:func:`payer_model.jobs.champion.load_champion`) unless a model is given.
    """
    from payer_model.adapters.audit import AuditStore
    from payer_model.config import Settings
    from payer_model.jobs.inputs import load_training_config
    from payer_model.policy.policies import DEFAULT_POLICY_FILE, load_policies

    s = settings or Settings()
    cfg, _ = load_training_config(config_path)
    if model is None:
        from payer_model.jobs.champion import load_champion

        model, model_version = load_champion(cfg, s.tracking_uri)
    policies = load_policies(policy_path or s.policy_file or DEFAULT_POLICY_FILE)
    delivery = Delivery(s.smtp_host, s.smtp_port, s.smtp_sender, s.outbox_webhook,
                        s.alert_webhook)  # fmt: skip
    return LiveLoop(
        LedgerStore(s.ledger_url),
        Scorer(model, model_version, cfg, policies),
        p_bad_step=s.alert_p_bad_step,
        delivery=delivery,
        audit=AuditStore(s.audit_db),
        collectors=[c.strip() for c in s.collectors.split(",") if c.strip()],
        capacity=s.collector_capacity,
    )
