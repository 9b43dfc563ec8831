"""As-of customer features computed with DuckDB SQL (DESIGN §3).

Everything is computed as of a cutoff T (start of day): an event dated T or later is unknown.
The three clocks:

* an invoice exists at T if ``invoice_date < T``;
* it is paid at T only if ``paid_date < T``; otherwise it is open at T, even when it was
  paid later, and feeds exposure and aging by ``T - due_date``;
* a dispute, a write-off, a partial payment or a reminder counts only if dated before T.

Cost grows gently with the number of cutoffs: lifetime statistics are sums and counts per
customer and cutoff period, assigned with an ASOF join and accumulated with window sums;
only bounded windows (12 months of payments, open invoices) are range-joined.

The engine for training (many cutoffs) and batch scoring; :mod:`.dispatch` dispatches to it
or to :mod:`.spark`, and :mod:`.online` computes the same features in memory for the API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from payer_model.features.asof import open_at_sql
from payer_model.features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    NUMERIC_FEATURES,
    WORSE_WHEN_HIGHER,
)
from payer_model.features.sqldialect import render

log = logging.getLogger(__name__)

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURE_COLUMNS",
    "KEY_COLUMNS",
    "NUMERIC_FEATURES",
    "WORSE_WHEN_HIGHER",
    "connect",
    "finalise_features",
    "feature_sql",
]

EMPTY_PAYMENTS = pd.DataFrame(
    {
        "invoice_id": pd.Series(dtype=object),
        "payment_date": pd.Series(dtype="datetime64[us]"),
        "amount": pd.Series(dtype=float),
    }
)
EMPTY_REMINDERS = pd.DataFrame(
    {
        "invoice_id": pd.Series(dtype=object),
        "sent_date": pd.Series(dtype="datetime64[us]"),
    }
)

_SQL = """
WITH cut AS (
    SELECT t, k, lag(t, 1, DATE '0001-01-01') OVER (ORDER BY k) AS t_prev
    FROM (
        SELECT CAST(as_of AS DATE) AS t, row_number() OVER (ORDER BY as_of) AS k
        FROM (SELECT DISTINCT as_of FROM cutoffs_in) d
    ) ck
),
inv AS (
    SELECT
        CAST(customer_id AS STRING) AS customer_id,
        CAST(invoice_id AS STRING) AS invoice_id,
        CAST(invoice_date AS DATE) AS invoice_date,
        CAST(due_date AS DATE) AS due_date,
        CAST(paid_date AS DATE) AS paid_date,
        CAST(amount AS DOUBLE) AS amount,
        CAST(dispute_date AS DATE) AS dispute_date,
        COALESCE(CAST(disputed AS BOOLEAN), FALSE) AS disputed,
        CAST(written_off_date AS DATE) AS written_off_date,
        (coalesce(document_type, 'invoice') = 'credit_note' OR amount < 0) AS is_cn
    FROM invoices_in
),
real_inv AS (SELECT * FROM inv WHERE NOT is_cn),
-- lifetime sums: each event goes to the first cutoff that sees it (event_date < T) ...
paid_ev AS (
    SELECT i.customer_id, c.k,
        count(*) AS paid_n,
        sum(i.amount) AS paid_amt,
        sum(i.amount * DDIFF(i.paid_date, i.due_date)) AS late_amt,
        sum(i.amount * DDIFF(i.paid_date, i.invoice_date)) AS dtp_amt,
        count(*) FILTER (WHERE DDIFF(i.paid_date, i.due_date) > 0) AS late0_n,
        count(*) FILTER (WHERE DDIFF(i.paid_date, i.due_date) > 15) AS late15_n,
        count(*) FILTER (WHERE DDIFF(i.paid_date, i.due_date) > 30) AS late30_n,
        max(DDIFF(i.paid_date, i.due_date)) AS max_late,
        max(i.paid_date) AS last_paid
    FROM real_inv i ASOF_CUT(i.paid_date)
    WHERE i.paid_date IS NOT NULL
    GROUP BY ALL
),
inv_ev AS (
    SELECT i.customer_id, c.k,
        count(*) AS inv_n,
        sum(i.amount) AS inv_amt,
        sum(DDIFF(i.due_date, i.invoice_date)) AS terms_sum,
        min(i.invoice_date) AS first_inv,
        max(i.invoice_date) AS last_inv
    FROM real_inv i ASOF_CUT(i.invoice_date)
    GROUP BY ALL
),
disp_ev AS (
    SELECT i.customer_id, c.k, count(*) AS disputes_n
    FROM real_inv i ASOF_CUT(i.dispute_date)
    WHERE i.dispute_date IS NOT NULL
    GROUP BY ALL
),
wo_ev AS (
    SELECT i.customer_id, c.k, count(*) AS writeoffs_n, sum(i.amount) AS writeoff_amt
    FROM real_inv i ASOF_CUT(i.written_off_date)
    WHERE i.written_off_date IS NOT NULL
    GROUP BY ALL
),
-- ... then a customer x cutoff grid accumulates them with window sums
grid AS (
    SELECT f.customer_id, c.k, c.t
    FROM (SELECT customer_id, min(k) AS k0 FROM inv_ev GROUP BY ALL) f
    JOIN cut c ON c.k >= f.k0
),
life AS (
    SELECT g.customer_id, g.k, g.t,
        CUMSUM(coalesce(p.paid_n, 0)) AS paid_n,
        CUMSUM(coalesce(p.paid_amt, 0)) AS paid_amt,
        CUMSUM(coalesce(p.late_amt, 0)) AS late_amt,
        CUMSUM(coalesce(p.dtp_amt, 0)) AS dtp_amt,
        CUMSUM(coalesce(p.late0_n, 0)) AS late0_n,
        CUMSUM(coalesce(p.late15_n, 0)) AS late15_n,
        CUMSUM(coalesce(p.late30_n, 0)) AS late30_n,
        CUMMAX(p.max_late) AS max_late,
        CUMMAX(p.last_paid) AS last_paid,
        CUMSUM(coalesce(v.inv_n, 0)) AS inv_n,
        CUMSUM(coalesce(v.inv_amt, 0)) AS inv_amt,
        CUMSUM(coalesce(v.terms_sum, 0)) AS terms_sum,
        CUMMIN(v.first_inv) AS first_inv,
        CUMMAX(v.last_inv) AS last_inv,
        CUMSUM(coalesce(d.disputes_n, 0)) AS disputes_n,
        CUMSUM(coalesce(o.writeoffs_n, 0)) AS writeoffs_n,
        CUMSUM(coalesce(o.writeoff_amt, 0)) AS writeoff_amt
    FROM grid g
    LEFT JOIN paid_ev p USING (customer_id, k)
    LEFT JOIN inv_ev v USING (customer_id, k)
    LEFT JOIN disp_ev d USING (customer_id, k)
    LEFT JOIN wo_ev o USING (customer_id, k)
    WINDOW w AS (PARTITION BY g.customer_id ORDER BY g.k
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
-- bounded window of payments: exact quantiles, recent means, the last five payments.
-- Payments that any cutoff's window can see are ranked once per customer, latest first
-- (paid_date, invoice_id). At the last cutoff the last five are ranks 1-5; at an earlier
-- cutoff they are the five ranks from the first one in its window (LAST5_JOIN: a join
-- that only the multi-cutoff plan runs).
paid_rank AS (
    SELECT i.customer_id, i.amount, i.paid_date, DDIFF(i.paid_date, i.due_date) AS dl,
        row_number() OVER (PARTITION BY i.customer_id
                           ORDER BY i.paid_date DESC, i.invoice_id DESC) AS rd
    FROM real_inv i JOIN (SELECT min(t) - {window_days} AS lo, max(t) AS hi FROM cut) b
      ON i.paid_date >= b.lo AND i.paid_date < b.hi
),
paid_win AS (
    SELECT p.customer_id, c.k, c.t, p.amount, p.paid_date, p.dl, p.rd
    FROM paid_rank p JOIN cut c
      ON p.paid_date < c.t AND p.paid_date >= c.t - {window_days}
),
win AS (
    SELECT customer_id, k,
        count(*) AS paid_n_12m,
        sum(amount * dl) / nullif(sum(amount), 0) AS wmean_days_late_12m,
        QCONT(dl, 0.5) AS median_days_late_12m,
        QCONT(dl, 0.9) AS p90_days_late_12m,
        max(dl) AS max_days_late_12m,
        min(rd) AS rd_first,
        avg(dl) FILTER (WHERE rd <= 5) AS last5_at_last_cutoff,
        avg(dl) FILTER (WHERE paid_date >= t - {trend_days}) AS mean_days_late_90d,
        avg(dl) FILTER (WHERE paid_date < t - {trend_days}
                          AND paid_date >= t - 2 * {trend_days}) AS mean_days_late_prev90d
    FROM paid_win GROUP BY ALL
),
last5 AS (
    SELECT x.customer_id, x.k, avg(p.dl) AS last5_mean_days_late
    FROM (
        SELECT w.customer_id, w.k, c.t, w.rd_first + o.j AS rd
        FROM win w JOIN cut c ON c.k = w.k
        CROSS JOIN (VALUES (0), (1), (2), (3), (4)) AS o(j)
        WHERE LAST5_JOIN(c.k < (SELECT max(k) FROM cut))
    ) x
    JOIN paid_rank p ON p.customer_id = x.customer_id AND p.rd = x.rd
    WHERE p.paid_date >= x.t - {window_days}
    GROUP BY x.customer_id, x.k
),
inv_win AS (
    SELECT i.customer_id, c.k,
        count(*) FILTER (WHERE i.invoice_date >= c.t - {trend_days}) AS inv_n_90d,
        count(*) FILTER (WHERE i.invoice_date < c.t - {trend_days}
                           AND i.invoice_date >= c.t - 2 * {trend_days}) AS inv_n_prev90d,
        sum(i.amount) AS billed_12m
    FROM real_inv i JOIN cut c
      ON i.invoice_date < c.t AND i.invoice_date >= c.t - {window_days}
    GROUP BY ALL
),
-- exposure: invoices open at T (exists, not paid before T, not written off before T)
open_inv AS (
    SELECT i.customer_id, c.k, c.t, i.invoice_id, i.amount, i.due_date,
        (i.disputed AND i.dispute_date < c.t) AS disputed_at_t
    FROM real_inv i JOIN cut c
      ON {open_at}
),
open_rem AS (
    SELECT o.customer_id, o.k, o.t, o.due_date, o.disputed_at_t,
        greatest(o.amount - coalesce(sum(p.amount), 0), 0) AS remaining
    FROM open_inv o
    LEFT JOIN payments_in p
      ON CAST(p.invoice_id AS STRING) = o.invoice_id AND CAST(p.payment_date AS DATE) < o.t
    GROUP BY o.customer_id, o.k, o.t, o.invoice_id, o.amount, o.due_date, o.disputed_at_t
),
expo AS (
    SELECT customer_id, k,
        count(*) AS open_n,
        sum(remaining) AS open_amt,
        count(*) FILTER (WHERE due_date < t) AS overdue_n,
        coalesce(sum(remaining) FILTER (WHERE due_date < t), 0) AS overdue_amt,
        coalesce(sum(remaining) FILTER (WHERE DDIFF(t, due_date) BETWEEN 1 AND 30), 0)
            AS aging_1_30,
        coalesce(sum(remaining) FILTER (WHERE DDIFF(t, due_date) BETWEEN 31 AND 60), 0)
            AS aging_31_60,
        coalesce(sum(remaining) FILTER (WHERE DDIFF(t, due_date) BETWEEN 61 AND 90), 0)
            AS aging_61_90,
        coalesce(sum(remaining) FILTER (WHERE DDIFF(t, due_date) > 90), 0) AS aging_90p,
        max(DDIFF(t, due_date)) FILTER (WHERE due_date < t) AS oldest_overdue_days,
        count(*) FILTER (WHERE disputed_at_t) AS open_disputed_n
    FROM open_rem GROUP BY ALL
),
-- responsiveness: reminders in the window; a reminder counts as answered when the invoice
-- was paid within 7 days, judged only on reminders sent at least 7 days before T
rem AS (
    SELECT r.customer_id, c.k,
        count(*) AS reminders_12m,
        count(*) FILTER (WHERE r.sent_date < c.t - 7) AS resolved_n,
        count(*) FILTER (WHERE r.sent_date < c.t - 7 AND r.paid_date >= r.sent_date
                           AND r.paid_date <= r.sent_date + 7) AS answered_n
    FROM (
        SELECT i.customer_id, CAST(x.sent_date AS DATE) AS sent_date, i.paid_date
        FROM reminders_in x JOIN real_inv i ON CAST(x.invoice_id AS STRING) = i.invoice_id
    ) r JOIN cut c ON r.sent_date < c.t AND r.sent_date >= c.t - {window_days}
    GROUP BY ALL
),
cust AS (
    SELECT CAST(customer_id AS STRING) AS customer_id,
        lower(coalesce(CAST(customer_type AS STRING), 'company')) AS customer_type,
        coalesce(CAST(industry AS STRING), 'unknown') AS industry,
        coalesce(CAST(country AS STRING), 'unknown') AS country,
        CAST(payment_terms_days AS DOUBLE) AS payment_terms_days,
        CAST(credit_limit AS DOUBLE) AS credit_limit,
        CAST(created_date AS DATE) AS created_date
    FROM customers_in
)
SELECT
    l.customer_id,
    TS(l.t) AS as_of,
    CAST(l.paid_n AS DOUBLE) AS paid_n,
    l.paid_amt,
    l.late_amt / nullif(l.paid_amt, 0) AS wmean_days_late,
    l.dtp_amt / nullif(l.paid_amt, 0) AS wmean_days_to_pay,
    l.late0_n / nullif(l.paid_n, 0) AS share_late_0,
    l.late15_n / nullif(l.paid_n, 0) AS share_late_15,
    l.late30_n / nullif(l.paid_n, 0) AS share_late_30,
    CAST(l.max_late AS DOUBLE) AS max_days_late,
    CAST(coalesce(w.paid_n_12m, 0) AS DOUBLE) AS paid_n_12m,
    w.wmean_days_late_12m,
    w.median_days_late_12m,
    w.p90_days_late_12m,
    CAST(w.max_days_late_12m AS DOUBLE) AS max_days_late_12m,
    CASE WHEN l.k = (SELECT max(k) FROM cut) THEN w.last5_at_last_cutoff
         ELSE l5.last5_mean_days_late END AS last5_mean_days_late,
    w.mean_days_late_90d,
    w.mean_days_late_prev90d,
    w.mean_days_late_90d - w.mean_days_late_prev90d AS trend_days_late,
    CAST(coalesce(v.inv_n_90d, 0) AS DOUBLE) AS inv_n_90d,
    CAST(coalesce(v.inv_n_prev90d, 0) AS DOUBLE) AS inv_n_prev90d,
    (coalesce(v.inv_n_90d, 0) - coalesce(v.inv_n_prev90d, 0))
        / (coalesce(v.inv_n_90d, 0) + coalesce(v.inv_n_prev90d, 0) + CAST(1 AS DOUBLE))
        AS inv_trend,
    CAST(coalesce(e.open_n, 0) AS DOUBLE) AS open_n,
    coalesce(e.open_amt, 0.0) AS open_amt,
    CAST(coalesce(e.overdue_n, 0) AS DOUBLE) AS overdue_n,
    coalesce(e.overdue_amt, 0.0) AS overdue_amt,
    coalesce(e.overdue_amt / nullif(e.open_amt, 0), 0.0) AS overdue_share,
    coalesce(e.aging_1_30, 0.0) AS aging_1_30,
    coalesce(e.aging_31_60, 0.0) AS aging_31_60,
    coalesce(e.aging_61_90, 0.0) AS aging_61_90,
    coalesce(e.aging_90p, 0.0) AS aging_90p,
    CAST(coalesce(e.oldest_overdue_days, 0) AS DOUBLE) AS oldest_overdue_days,
    coalesce(e.open_amt, 0.0) / nullif(cu.credit_limit, 0) AS credit_utilisation,
    CAST(coalesce(e.open_disputed_n, 0) AS DOUBLE) AS open_disputed_n,
    CAST(DDIFF(l.t, CASE WHEN cu.created_date < l.first_inv THEN cu.created_date
                         ELSE l.first_inv END) AS DOUBLE) AS tenure_days,
    CAST(DDIFF(l.t, l.last_inv) AS DOUBLE) AS days_since_last_invoice,
    CAST(DDIFF(l.t, l.last_paid) AS DOUBLE) AS days_since_last_payment,
    CAST(l.inv_n AS DOUBLE) AS inv_n,
    l.inv_amt / nullif(l.inv_n, 0) AS mean_invoice_amt,
    coalesce(v.billed_12m, 0.0) AS billed_12m,
    CAST(l.disputes_n AS DOUBLE) AS disputes_n,
    l.disputes_n / nullif(l.inv_n, 0) AS dispute_rate,
    CAST(l.writeoffs_n AS DOUBLE) AS writeoffs_n,
    l.writeoff_amt,
    CAST(coalesce(r.reminders_12m, 0) AS DOUBLE) AS reminders_12m,
    r.answered_n / nullif(r.resolved_n, 0) AS reminder_response_rate,
    coalesce(r.reminders_12m, 0) / nullif(coalesce(w.paid_n_12m, 0), 0) AS reminders_per_paid,
    coalesce(cu.payment_terms_days, l.terms_sum / nullif(l.inv_n, 0)) AS payment_terms_days,
    cu.credit_limit,
    coalesce(cu.customer_type, 'company') AS customer_type,
    coalesce(cu.industry, 'unknown') AS industry,
    coalesce(cu.country, 'unknown') AS country
FROM life l
LEFT JOIN win w USING (customer_id, k)
LEFT JOIN last5 l5 USING (customer_id, k)
LEFT JOIN inv_win v USING (customer_id, k)
LEFT JOIN expo e USING (customer_id, k)
LEFT JOIN rem r USING (customer_id, k)
LEFT JOIN cust cu USING (customer_id)
ORDER BY l.t, l.customer_id
"""


def feature_sql(
    window_days: int = 365,
    trend_days: int = 90,
    dialect: str = "duckdb",
    *,
    one_cutoff: bool = False,
) -> str:
    """The feature query over the ``*_in`` views, rendered for one SQL engine.

    ``one_cutoff`` renders the plan for a single cutoff (see :func:`.sqldialect.render`).
    """
    sql = _SQL.format(
        window_days=int(window_days), trend_days=int(trend_days), open_at=open_at_sql("i", "c.t")
    )
    return render(sql, dialect, one_cutoff=one_cutoff)


def as_timestamps(as_of: date | str | pd.Timestamp | Iterable) -> pd.DatetimeIndex:
    if isinstance(as_of, str | date | pd.Timestamp):
        as_of = [as_of]
    idx = pd.DatetimeIndex(pd.to_datetime(list(as_of))).normalize().unique().sort_values()
    if len(idx) == 0:
        raise ValueError("at least one as-of date is required")
    return idx


class FeatureResourceError(MemoryError):
    """DuckDB ran out of memory or spill space; the message names the settings to change."""


def connect(temp_dir: str | None = None, memory_limit: str | None = None):
    """Open an in-memory DuckDB connection with optional spill directory and memory cap.

    Args:
        temp_dir: folder where DuckDB spills intermediate results larger than the memory
            limit (``PAYER_DUCKDB_TEMP_DIR``); ``""`` disables spilling.
        memory_limit: DuckDB memory cap such as ``"4GB"`` (``PAYER_DUCKDB_MEMORY_LIMIT``).
    """
    con = duckdb.connect()
    if temp_dir is not None:
        con.execute("SET temp_directory = ?", [str(temp_dir)])
    if memory_limit:
        con.execute("SET memory_limit = ?", [str(memory_limit)])
    return con


def connect_from_settings(settings=None):
    """A connection configured from :class:`payer_model.config.Settings` (environment)."""
    from payer_model.config import Settings

    settings = settings or Settings()
    return connect(settings.duckdb_temp_dir, settings.duckdb_memory_limit)


def resource_error(con, exc: Exception) -> FeatureResourceError | None:
    """A clear one-line error for out-of-memory / out-of-disk, None for other errors."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.IOException) and not any(
        w in text.lower() for w in ("space", "disk", "temp", "spill")
    ):
        return None
    try:
        ((limit, temp),) = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()
    except duckdb.Error:  # the connection itself may be unusable after the failure
        limit, temp = "?", "?"
    return FeatureResourceError(
        f"feature query ran out of {'memory' if 'memory' in text.lower() else 'disk'} "
        f"(memory_limit={limit}, temp_directory={temp or 'none'}): raise "
        "PAYER_DUCKDB_MEMORY_LIMIT or point PAYER_DUCKDB_TEMP_DIR at a disk with free space "
        f"so DuckDB can spill; DuckDB said: {text}"
    )


def customers_frame(customers: pd.DataFrame | None, invoices: pd.DataFrame) -> pd.DataFrame:
    cols = ["customer_type", "industry", "country", "payment_terms_days", "credit_limit"]
    if customers is None or len(customers) == 0:
        ids = pd.unique(invoices["customer_id"].astype(str))
        customers = pd.DataFrame({"customer_id": ids})
    out = pd.DataFrame({"customer_id": customers["customer_id"].astype(str)})
    for col in cols:
        out[col] = customers.get(col)
    out["created_date"] = (
        pd.to_datetime(customers["created_date"])
        if "created_date" in customers
        else pd.Series(pd.NaT, index=customers.index, dtype="datetime64[us]")
    )
    return out


def invoices_frame(invoices: pd.DataFrame) -> pd.DataFrame:
    # a shallow column selection: no copy of 10M-row string columns, DuckDB scans in place
    inv = pd.DataFrame({c: invoices[c] for c in invoices.columns})
    defaults = {
        "document_type": "invoice",
        "paid_date": pd.NaT,
        "dispute_date": pd.NaT,
        "written_off_date": pd.NaT,
        "disputed": False,
    }
    for col, val in defaults.items():
        if col not in inv:
            inv[col] = val
    for col in ("invoice_date", "due_date", "paid_date", "dispute_date", "written_off_date"):
        if not pd.api.types.is_datetime64_any_dtype(inv[col]):
            inv[col] = pd.to_datetime(inv[col])
    return inv[
        [
            "invoice_id",
            "customer_id",
            "invoice_date",
            "due_date",
            "paid_date",
            "amount",
            "document_type",
            "disputed",
            "dispute_date",
            "written_off_date",
        ]
    ]


def finalise_features(out: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    """Join last period's label onto the SQL result and fix the output types and order.

    Shared by the DuckDB and Spark engines so both return exactly ``FEATURE_COLUMNS``.
    """
    out["customer_id"] = out["customer_id"].astype(str)
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")
    out = out.merge(prev, on=["customer_id", "as_of"], how="left")
    out["prev_label"] = out["prev_label"].fillna("none")
    for col in NUMERIC_FEATURES:
        out[col] = out[col].astype(np.float64)
    for col in CATEGORICAL_FEATURES:
        out[col] = out[col].astype(str)
    return out
