"""The ledger's tables (SQLAlchemy Core), as the Alembic migrations leave them.

The migrations under ``adapters/migrations/versions`` create and change the schema; these
``Table`` objects are what the queries use, and a test holds the two equal.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_ID = 128

events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(_ID), nullable=False, unique=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("customer_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("event_date", sa.Date, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
)
event_invoices = sa.Table(
    "ledger_event_invoices",
    metadata,
    sa.Column("event_id", sa.String(_ID), primary_key=True),
    sa.Column("invoice_id", sa.String(_ID), primary_key=True, index=True),
)
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("customer_type", sa.String(32)),
    sa.Column("industry", sa.String(64)),
    sa.Column("country", sa.String(8)),
    sa.Column("payment_terms_days", sa.Float),
    sa.Column("credit_limit", sa.Float),
    sa.Column("created_date", sa.Date),
)
invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("invoice_id", sa.String(_ID), primary_key=True),
    sa.Column("ledger_key", sa.String(_ID), nullable=False, index=True),
    sa.Column("customer_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("document_type", sa.String(16), nullable=False),
    sa.Column("invoice_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("paid_date", sa.Date),
    sa.Column("paid_amount", sa.Float),
    sa.Column("disputed", sa.Boolean, nullable=False),
    sa.Column("dispute_date", sa.Date),
    sa.Column("written_off_date", sa.Date),
)
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", sa.String(2 * _ID + 1), primary_key=True),
    sa.Column("invoice_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("customer_id", sa.String(_ID), nullable=False),
    sa.Column("payment_date", sa.Date, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),
)
reminders = sa.Table(
    "reminders",
    metadata,
    sa.Column("reminder_id", sa.String(_ID), primary_key=True),
    sa.Column("invoice_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("customer_id", sa.String(_ID), nullable=False),
    sa.Column("sent_date", sa.Date, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(32)),
    sa.Column("promise_date", sa.Date),
)
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
)
quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(_ID)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
)
customer_state = sa.Table(
    "customer_state",
    metadata,
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("rating", sa.String(16), nullable=False),
    sa.Column("p_good", sa.Float),
    sa.Column("p_average", sa.Float),
    sa.Column("p_bad", sa.Float),
    sa.Column("score", sa.Float),
    sa.Column("segment", sa.String(64)),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("features", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(64)),
    sa.Column("policy_version", sa.String(64)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_key", sa.String(64), nullable=False, unique=True),
    sa.Column("customer_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("kinds", sa.String(128), nullable=False),
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("event_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
)
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("invoice_ids", sa.Text, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("tone", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("policy_version", sa.String(64)),
    sa.Column("due_date", sa.Date, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
outbox_invoices = sa.Table(
    "outbox_invoices",
    metadata,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("invoice_id", sa.String(_ID), primary_key=True, index=True),
)
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("collector", sa.String(64), nullable=False),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_key", sa.String(64), nullable=False, unique=True),
    sa.Column("customer_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("why", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
ledger_meta = sa.Table(
    "ledger_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
