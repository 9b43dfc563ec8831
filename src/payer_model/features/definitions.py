"""Feature definitions: the names, their order and their direction (one source of truth).

The engines (:mod:`.batch` DuckDB SQL, :mod:`.spark`, :mod:`.online` in memory) all return
exactly ``FEATURE_COLUMNS``; parity tests hold them equal.
"""

from __future__ import annotations

NUMERIC_FEATURES: tuple[str, ...] = (
    # history (lifetime, paid before T; credit notes excluded)
    "paid_n",
    "paid_amt",
    "wmean_days_late",
    "wmean_days_to_pay",
    "share_late_0",
    "share_late_15",
    "share_late_30",
    "max_days_late",
    # history over the bounded window (12 months by default)
    "paid_n_12m",
    "wmean_days_late_12m",
    "median_days_late_12m",
    "p90_days_late_12m",
    "max_days_late_12m",
    "last5_mean_days_late",
    # trend
    "mean_days_late_90d",
    "mean_days_late_prev90d",
    "trend_days_late",
    "inv_n_90d",
    "inv_n_prev90d",
    "inv_trend",
    # exposure at T
    "open_n",
    "open_amt",
    "overdue_n",
    "overdue_amt",
    "overdue_share",
    "aging_1_30",
    "aging_31_60",
    "aging_61_90",
    "aging_90p",
    "oldest_overdue_days",
    "credit_utilisation",
    "open_disputed_n",
    # activity
    "tenure_days",
    "days_since_last_invoice",
    "days_since_last_payment",
    "inv_n",
    "mean_invoice_amt",
    "billed_12m",
    # disputes and write-offs
    "disputes_n",
    "dispute_rate",
    "writeoffs_n",
    "writeoff_amt",
    # responsiveness to reminders
    "reminders_12m",
    "reminder_response_rate",
    "reminders_per_paid",
    # last period's realised label (observed in full by T)
    "prev_label_code",
    "prev_mean_days_late",
    "prev_unpaid_share",
    # static
    "payment_terms_days",
    "credit_limit",
)
"""Numeric features, in model order."""

CATEGORICAL_FEATURES: tuple[str, ...] = ("customer_type", "industry", "country", "prev_label")
KEY_COLUMNS: tuple[str, ...] = ("customer_id", "as_of")
FEATURE_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES)

# Features where a larger value means worse payment behaviour or more exposure; used by
# the monotone constraints and the behavioural tests.
WORSE_WHEN_HIGHER: tuple[str, ...] = (
    "wmean_days_late",
    "share_late_0",
    "max_days_late",
    "max_days_late_12m",
    "mean_days_late_prev90d",
    "overdue_amt",
    "aging_1_30",
    "aging_31_60",
    "writeoffs_n",
    "prev_label_code",
    "prev_mean_days_late",
    "prev_unpaid_share",
    "wmean_days_late_12m",
    "median_days_late_12m",
    "p90_days_late_12m",
    "share_late_15",
    "share_late_30",
    "last5_mean_days_late",
    "mean_days_late_90d",
    "overdue_share",
    "aging_61_90",
    "aging_90p",
    "oldest_overdue_days",
)
