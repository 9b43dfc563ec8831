"""Kernels of the online feature engine: group reductions, exposure, reminders, last label.

Helpers of :mod:`payer_model.features.online`: every array of a :class:`Flat` holds one row
per invoice (or event) of a request, ``g`` is the customer's position in the request and
``n`` the number of customers, so one numpy call computes a statistic for all customers at
once. A missing date is the day number :data:`NEVER`, later than any real date, so
``date < T`` is False for it, as a SQL ``NULL < T`` is.

:func:`previous_label` mirrors :func:`payer_model.features.labels.previous_period` (the label
query of :mod:`.labels` at ``T - observation_days``, observed up to T) for a single cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from payer_model.config import LabelConfig
from payer_model.data.schema import RATINGS

# labels.LABEL_INDEX, without importing labels (duckdb, pandas) on the serving path
LABEL_INDEX: dict[str, int] = {r: i for i, r in enumerate(RATINGS)}

NEVER = 10**8
"""Day number standing for a missing date (NULL): after every real date."""

_NAMES = np.array([*RATINGS, "none"], dtype=object)


@dataclass
class Flat:
    """All non credit-note invoices of a request as arrays, plus payments and reminders."""

    n: int
    g: np.ndarray
    inv: dict[str, np.ndarray]
    disputed: np.ndarray
    ids: np.ndarray
    pay_i: np.ndarray
    pay_d: np.ndarray
    pay_a: np.ndarray
    rem_i: np.ndarray
    rem_d: np.ndarray


def group_count(g: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Rows per customer where ``mask`` holds, as float64."""
    return np.bincount(g[mask], minlength=n).astype(np.float64)


def group_sum(g: np.ndarray, x: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``x`` per customer over the rows where ``mask`` holds (0 when none)."""
    return np.bincount(g[mask], weights=x[mask], minlength=n)


def group_max(g: np.ndarray, x: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Maximum of ``x`` per customer over the masked rows; NaN when none (SQL ``max``)."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, g[mask], x[mask].astype(np.float64))
    out[out == -np.inf] = np.nan
    return out


def group_min(g: np.ndarray, x: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Minimum of ``x`` per customer over the masked rows; NaN when none (SQL ``min``)."""
    return -group_max(g, -x.astype(np.float64), mask, n)


def ratio(num: np.ndarray, den: np.ndarray, default: float = np.nan) -> np.ndarray:
    """``num / nullif(den, 0)`` with ``default`` where the denominator is 0 or missing."""
    out = np.full(num.shape, default)
    np.divide(num, den, out=out, where=(den != 0) & ~np.isnan(den))
    return out


def group_mean(g: np.ndarray, x: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """SQL ``avg`` per customer over the masked rows; NaN when none."""
    return ratio(group_sum(g, x, mask, n), group_count(g, mask, n))


def group_quantiles(g: np.ndarray, x: np.ndarray, n: int, qs: Sequence[float]) -> list[np.ndarray]:
    """``quantile_cont`` (linear interpolation) of ``x`` per customer; NaN when empty."""
    xs = x[np.lexsort((x, g))]
    cnt = np.bincount(g, minlength=n)
    has = cnt > 0
    first = (np.cumsum(cnt) - cnt)[has]
    out = []
    for q in qs:
        pos = (cnt[has] - 1) * q
        lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
        a, b = xs[first + lo], xs[first + hi]
        res = np.full(n, np.nan)
        res[has] = a + (b - a) * (pos - lo)
        out.append(res)
    return out


def group_last_mean(
    g: np.ndarray, paid: np.ndarray, ids: np.ndarray, x: np.ndarray, n: int, k: int = 5
) -> np.ndarray:
    """Mean of ``x`` over each customer's last ``k`` rows by (``paid``, ``ids``) descending."""
    order = np.lexsort((np.array([str(i) for i in ids], dtype=object), paid, g))
    end = np.cumsum(np.bincount(g, minlength=n))
    from_end = end[g[order]] - np.arange(len(order)) - 1
    top = order[from_end < k]
    return group_mean(g[top], x[top], np.ones(len(top), dtype=bool), n)


def exposure(f: Flat, t: int) -> dict[str, np.ndarray]:
    """Invoices open at T: remaining amounts after partial payments, overdue and aging."""
    g, n, inv = f.g, f.n, f.inv
    due = inv["due_date"]
    settled = np.minimum(inv["paid_date"], inv["written_off_date"])  # least() skips NULLs
    is_open = (inv["invoice_date"] < t) & (settled >= t)
    before = f.pay_d < t
    part = np.bincount(f.pay_i[before], weights=f.pay_a[before], minlength=len(due))
    rest = np.maximum(inv["amount"] - part, 0.0)
    age = t - due
    od = is_open & (due < t)
    open_amt = group_sum(g, rest, is_open, n)
    overdue_amt = group_sum(g, rest, od, n)
    oldest = group_max(g, age, od, n)
    return {
        "open_n": group_count(g, is_open, n),
        "open_amt": open_amt,
        "overdue_n": group_count(g, od, n),
        "overdue_amt": overdue_amt,
        "overdue_share": ratio(overdue_amt, open_amt, 0.0),
        "aging_1_30": group_sum(g, rest, is_open & (age >= 1) & (age <= 30), n),
        "aging_31_60": group_sum(g, rest, is_open & (age >= 31) & (age <= 60), n),
        "aging_61_90": group_sum(g, rest, is_open & (age >= 61) & (age <= 90), n),
        "aging_90p": group_sum(g, rest, is_open & (age > 90), n),
        "oldest_overdue_days": np.where(np.isnan(oldest), 0.0, oldest),
        "open_disputed_n": group_count(g, is_open & f.disputed & (inv["dispute_date"] < t), n),
    }


def reminders(f: Flat, t: int, window: int, paid_n_12m: np.ndarray) -> dict[str, np.ndarray]:
    """Reminders in the window; answered = paid within 7 days, judged 7+ days before T."""
    g, n, sent = f.g[f.rem_i], f.n, f.rem_d
    paid = f.inv["paid_date"][f.rem_i]
    w = (sent < t) & (sent >= t - window)
    resolved = w & (sent < t - 7)
    answered = resolved & (paid >= sent) & (paid <= sent + 7)
    count = group_count(g, w, n)
    return {
        "reminders_12m": count,
        "reminder_response_rate": ratio(group_count(g, answered, n), group_count(g, resolved, n)),
        "reminders_per_paid": ratio(count, paid_n_12m),
    }


def previous_label(f: Flat, t: int, cfg: LabelConfig) -> tuple[dict[str, np.ndarray], list[str]]:
    """Last period's realised label per customer: the label at ``T - H - G``, ending at T.

    Args:
        f: the request's invoices.
        t: the cutoff T as a day number.
        cfg: label definition.

    Returns:
        ``prev_label_code``, ``prev_mean_days_late``, ``prev_unpaid_share`` arrays and the
        ``prev_label`` names (``"none"`` where no invoice falls in the label window).
    """
    g, n, inv = f.g, f.n, f.inv
    start = t - cfg.observation_days  # the label's cutoff; its observation ends at e = t
    known = inv["invoice_date"] < t
    paid = np.where(inv["paid_date"] < t, inv["paid_date"], NEVER)  # later events blanked
    wo = np.where(inv["written_off_date"] < t, inv["written_off_date"], NEVER)
    due, amt = inv["due_date"], inv["amount"]
    open_at = (inv["invoice_date"] < start) & (np.minimum(paid, wo) >= start)
    due_in = (due >= start) & (due < start + cfg.horizon_days)
    m = known & (open_at | due_in)
    paid_by_e = paid < t
    dl = np.where(paid_by_e, paid - due, t - due).astype(np.float64)
    cnt = group_count(g, m, n)
    total = group_sum(g, amt, m, n)
    mean = ratio(group_sum(g, amt * dl, m, n), total)
    unpaid = m & ~paid_by_e & (dl >= cfg.bad_unpaid_days_past_due)
    share = ratio(group_sum(g, amt, unpaid, n), total)
    writeoff = group_count(g, m & (wo < t) & ~paid_by_e, n) > 0
    worst = group_max(g, dl, m, n)
    bad = (mean > cfg.bad_min_mean_days_late) | (share >= cfg.bad_unpaid_share) | writeoff
    good = (mean <= cfg.good_max_mean_days_late) & (worst <= cfg.good_max_days_late)
    code = np.where(bad, LABEL_INDEX["bad"], np.where(good, LABEL_INDEX["good"], -1))
    code = np.where(code == -1, LABEL_INDEX["average"], code)
    code = np.where(cnt > 0, code, len(_NAMES) - 1)
    none = cnt == 0
    numeric = {
        "prev_label_code": np.where(none, np.nan, code.astype(np.float64)),
        "prev_mean_days_late": np.where(none, np.nan, mean),
        "prev_unpaid_share": np.where(none, np.nan, share),
    }
    return numeric, _NAMES[code].tolist()
