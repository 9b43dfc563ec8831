"""Reason codes: the top feature contributions toward a rating, in plain words.

For the XGBoost rating the contributions are exact SHAP values from ``pred_contribs`` of the
booster that decides the rating (``P(bad)`` for bad, ``P(rating >= average)`` for average
and, with the sign flipped, for good). One-hot columns are summed back into their
category. Each reason has a stable ``code``, the ``feature``, the customer's ``value``, the
portfolio ``reference`` (training median) and a sentence using both numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import UNRATED
from payer_model.features import WORSE_WHEN_HIGHER
from payer_model.features.block import FeatureBlock

# feature -> (group, sentence). Sentences take {v} (value), {r} (reference), {n} (paid_n).
_SENTENCES: dict[str, tuple[str, str]] = {
    "wmean_days_late": (
        "LATE",
        "paid {n} invoices {vl} on average (amount-weighted); portfolio median {r:.0f}",
    ),
    "wmean_days_late_12m": (
        "LATE",
        "paid invoices of the last 12 months {vl} on "
        "average (amount-weighted); portfolio median {r:.0f}",
    ),
    "median_days_late_12m": (
        "LATE",
        "median payment {vl} over 12 months; portfolio median {r:.0f}",
    ),
    "p90_days_late_12m": ("LATE", "one payment in ten is {vl} or worse; portfolio median {r:.0f}"),
    "last5_mean_days_late": (
        "LATE",
        "paid the last {k} invoices {vl} on average; portfolio median {r:.0f}",
    ),
    "max_days_late": (
        "LATE",
        "latest payment ever was {v:.0f} days past due; portfolio median {r:.0f}",
    ),
    "max_days_late_12m": (
        "LATE",
        "latest payment in 12 months was {v:.0f} days past due; portfolio median {r:.0f}",
    ),
    "share_late_0": ("LATE", "{v:.0%} of paid invoices were late; portfolio median {r:.0%}"),
    "share_late_15": (
        "LATE",
        "{v:.0%} of paid invoices were more than 15 days late; portfolio median {r:.0%}",
    ),
    "share_late_30": (
        "LATE",
        "{v:.0%} of paid invoices were more than 30 days late; portfolio median {r:.0%}",
    ),
    "wmean_days_to_pay": (
        "LATE",
        "takes {v:.0f} days from invoice to payment on average; portfolio median {r:.0f}",
    ),
    "mean_days_late_90d": (
        "TREND",
        "paid {vl} on average over the last 90 days; portfolio median {r:.0f}",
    ),
    "mean_days_late_prev90d": (
        "TREND",
        "paid {vl} on average in the 90 days before that; portfolio median {r:.0f}",
    ),
    "trend_days_late": (
        "TREND",
        "lateness changed by {v:+.0f} days between the last two "
        "quarters; portfolio median {r:+.0f}",
    ),
    "inv_trend": (
        "ACTIVITY",
        "invoicing changed by {v:+.0%} quarter on quarter; portfolio median {r:+.0%}",
    ),
    "inv_n_90d": ("ACTIVITY", "{v:.0f} invoices in the last 90 days; portfolio median {r:.0f}"),
    "inv_n_prev90d": (
        "ACTIVITY",
        "{v:.0f} invoices in the 90 days before; portfolio median {r:.0f}",
    ),
    "open_n": ("OVERDUE", "{v:.0f} invoices open; portfolio median {r:.0f}"),
    "open_amt": ("OVERDUE", "{v:,.0f} outstanding; portfolio median {r:,.0f}"),
    "overdue_n": ("OVERDUE", "{v:.0f} invoices overdue; portfolio median {r:.0f}"),
    "overdue_amt": ("OVERDUE", "{v:,.0f} overdue; portfolio median {r:,.0f}"),
    "overdue_share": (
        "OVERDUE",
        "{v:.0%} of the open balance is overdue; portfolio median {r:.0%}",
    ),
    "aging_1_30": ("OVERDUE", "{v:,.0f} overdue by 1-30 days; portfolio median {r:,.0f}"),
    "aging_31_60": ("OVERDUE", "{v:,.0f} overdue by 31-60 days; portfolio median {r:,.0f}"),
    "aging_61_90": ("OVERDUE", "{v:,.0f} overdue by 61-90 days; portfolio median {r:,.0f}"),
    "aging_90p": ("OVERDUE", "{v:,.0f} overdue by more than 90 days; portfolio median {r:,.0f}"),
    "oldest_overdue_days": (
        "OVERDUE",
        "oldest unpaid invoice is {v:.0f} days past due; portfolio median {r:.0f}",
    ),
    "credit_utilisation": ("CREDIT", "uses {v:.0%} of the credit limit; portfolio median {r:.0%}"),
    "open_disputed_n": ("DISPUTES", "{v:.0f} open invoices in dispute; portfolio median {r:.0f}"),
    "disputes_n": ("DISPUTES", "{v:.0f} disputes so far; portfolio median {r:.0f}"),
    "dispute_rate": ("DISPUTES", "disputes {v:.0%} of invoices; portfolio median {r:.0%}"),
    "writeoffs_n": ("WRITE_OFFS", "{v:.0f} invoices written off; portfolio median {r:.0f}"),
    "writeoff_amt": ("WRITE_OFFS", "{v:,.0f} written off; portfolio median {r:,.0f}"),
    "paid_n": ("HISTORY", "{v:.0f} paid invoices on record; portfolio median {r:.0f}"),
    "paid_n_12m": ("HISTORY", "{v:.0f} invoices paid in 12 months; portfolio median {r:.0f}"),
    "inv_n": ("HISTORY", "{v:.0f} invoices on record; portfolio median {r:.0f}"),
    "tenure_days": ("HISTORY", "customer for {v:.0f} days; portfolio median {r:.0f}"),
    "paid_amt": ("HISTORY", "{v:,.0f} paid so far; portfolio median {r:,.0f}"),
    "days_since_last_invoice": (
        "ACTIVITY",
        "last invoice {v:.0f} days ago; portfolio median {r:.0f}",
    ),
    "days_since_last_payment": (
        "ACTIVITY",
        "last payment {v:.0f} days ago; portfolio median {r:.0f}",
    ),
    "mean_invoice_amt": ("ACTIVITY", "average invoice {v:,.0f}; portfolio median {r:,.0f}"),
    "billed_12m": ("ACTIVITY", "billed {v:,.0f} over 12 months; portfolio median {r:,.0f}"),
    "reminders_12m": ("REMINDERS", "{v:.0f} reminders in 12 months; portfolio median {r:.0f}"),
    "reminder_response_rate": (
        "REMINDERS",
        "paid within 7 days after {v:.0%} of reminders; portfolio median {r:.0%}",
    ),
    "reminders_per_paid": (
        "REMINDERS",
        "{v:.1f} reminders per paid invoice; portfolio median {r:.1f}",
    ),
    "prev_label_code": ("PREVIOUS", "last quarter's realised rating was {label}"),
    "prev_mean_days_late": (
        "PREVIOUS",
        "last quarter's invoices were paid {vl} on average; portfolio median {r:.0f}",
    ),
    "prev_unpaid_share": (
        "PREVIOUS",
        "{v:.0%} of last quarter's amount stayed unpaid 60+ days; portfolio median {r:.0%}",
    ),
    "payment_terms_days": ("PROFILE", "payment terms of {v:.0f} days; portfolio median {r:.0f}"),
    "credit_limit": ("CREDIT", "credit limit {v:,.0f}; portfolio median {r:,.0f}"),
}

# group -> (code when it pushes toward a worse rating, code when toward a better one)
GROUP_CODES: dict[str, tuple[str, str]] = {
    "LATE": ("LATE_PAYMENT_HISTORY", "ON_TIME_PAYMENT_HISTORY"),
    "TREND": ("WORSENING_TREND", "IMPROVING_TREND"),
    "OVERDUE": ("HIGH_OVERDUE_BALANCE", "LOW_OVERDUE_BALANCE"),
    "CREDIT": ("HIGH_CREDIT_UTILISATION", "LOW_CREDIT_UTILISATION"),
    "DISPUTES": ("DISPUTES", "FEW_DISPUTES"),
    "WRITE_OFFS": ("WRITE_OFFS", "NO_WRITE_OFFS"),
    "HISTORY": ("THIN_HISTORY", "ESTABLISHED_HISTORY"),
    "ACTIVITY": ("ACTIVITY_CHANGE", "STEADY_ACTIVITY"),
    "REMINDERS": ("SLOW_RESPONSE_TO_REMINDERS", "RESPONSIVE_TO_REMINDERS"),
    "PREVIOUS": ("LATE_LAST_PERIOD", "ON_TIME_LAST_PERIOD"),
    "PROFILE": ("PROFILE_RISK", "PROFILE_STRENGTH"),
}
RAISES_RISK, LOWERS_RISK = "raises_risk", "lowers_risk"
# feature -> +1 when a higher value means more risk, -1 when less; features not listed
# (activity, profile) have no fixed direction. A reason is only given when the customer's
# value sits on the side of the portfolio reference that matches its direction, so that a
# sentence never reads backwards ("responsive to reminders" with more reminders than most).
RISK_SIGN: dict[str, int] = {
    **dict.fromkeys(WORSE_WHEN_HIGHER, 1),
    **dict.fromkeys(
        (
            "reminders_per_paid",
            "reminders_12m",
            "disputes_n",
            "dispute_rate",
            "open_disputed_n",
            "writeoff_amt",
            "credit_utilisation",
            "trend_days_late",
            "overdue_n",
            "wmean_days_to_pay",
        ),
        1,
    ),
    **dict.fromkeys(("reminder_response_rate", "paid_n", "paid_n_12m", "tenure_days"), -1),
}
INSUFFICIENT_HISTORY = "INSUFFICIENT_HISTORY"
NO_HISTORY_REASON: dict[str, Any] = {
    "code": INSUFFICIENT_HISTORY,
    "feature": "inv_n",
    "value": 0.0,
    "reference": None,
    "contribution": None,
    "text": "no invoice before the as-of date",
}
"""The reason of a customer with no invoice before the as-of date (kept, ``unrated``)."""
_PREV_NAMES = {0.0: "good", 1.0: "average", 2.0: "bad"}


def _clean(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def sentence(feature: str, row: pd.Series, reference: dict[str, float]) -> tuple[str, str]:
    """(group, sentence) for one feature of one customer."""
    if feature in _SENTENCES:
        group, template = _SENTENCES[feature]
        v = _clean(row.get(feature))
        r = _clean(reference.get(feature))
        if v is None:
            return group, _missing_text(feature)
        paid = int(_clean(row.get("paid_n")) or 0)
        return group, template.format(
            v=v,
            r=r if r is not None else float("nan"),
            n=paid,
            k=min(5, paid),
            vl=f"{abs(v):.0f} days {'late' if v >= 0 else 'early'}",
            label=_PREV_NAMES.get(v, "unknown"),
        )
    cat, _, value = feature.partition("=")
    return "PROFILE", f"{cat.replace('_', ' ')} is {row.get(cat, value)}"


def _missing_text(feature: str) -> str:
    if feature.endswith("_12m") or feature in ("last5_mean_days_late", "reminders_per_paid"):
        return "no invoice paid in the last 12 months"
    if feature in ("mean_days_late_90d", "trend_days_late"):
        return "no invoice paid in the last 90 days"
    if feature == "mean_days_late_prev90d":
        return "no invoice paid in the 90 days before the last 90"
    if feature.startswith("prev_"):
        return "no invoice was due last quarter"
    if feature in ("credit_utilisation", "credit_limit"):
        return "no credit limit on record"
    if feature == "reminder_response_rate":
        return "no reminder to judge responsiveness by in 12 months"
    if feature in ("days_since_last_payment", "wmean_days_late", "wmean_days_to_pay"):
        return "no invoice paid yet"
    return f"no {feature.replace('_', ' ')} on record"


def _base_feature(column: str) -> str:
    return column.split("=", 1)[0] if "=" in column else column


def reason_codes(
    model,
    features: pd.DataFrame | FeatureBlock,
    ratings: pd.Series | np.ndarray,
    *,
    top: int = 3,
    min_paid_invoices: int = 1,
) -> list[list[dict[str, Any]]]:
    """Top ``top`` reasons per row toward its rating (``INSUFFICIENT_HISTORY`` if unrated)."""
    ratings = np.asarray(ratings, dtype=object)
    features = FeatureBlock.of(features)
    reference = getattr(model, "reference_", {}) or {}
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(features))]
    paid_n = np.asarray(features["paid_n"])
    unrated = (paid_n < min_paid_invoices) | (ratings == UNRATED)
    for i in np.flatnonzero(unrated):
        paid = int(paid_n[i])
        out[i] = [
            {
                "code": INSUFFICIENT_HISTORY,
                "feature": "paid_n",
                "value": float(paid),
                "reference": float(min_paid_invoices),
                "contribution": None,
                "text": f"only {paid} paid invoice(s) before the as-of date; "
                f"{min_paid_invoices} needed for a rating",
            }
        ]
    rated = np.flatnonzero(~unrated)
    if len(rated) == 0:
        return out
    sub = features.take(rated)
    rows = _Rows(sub)
    if hasattr(model, "contributions"):
        found = _contribution_reasons(model, sub, ratings[rated], reference, top)
    else:
        found = _rule_reasons(rows, ratings[rated], reference, top)
    for j, i in enumerate(rated):
        out[i] = found[j]
    return out


def _mean_late_feature(row) -> str:
    if _clean(row.get("wmean_days_late_12m")) is not None:
        return "wmean_days_late_12m"
    return "wmean_days_late"


def _contribution_reasons(
    model, sub: FeatureBlock, picked: np.ndarray, reference: dict[str, float], top: int
) -> list[list[dict[str, Any]]]:
    """Reasons from the model's per-feature contributions toward each row's rating."""
    rows = _Rows(sub)
    cols = model.encoder_.columns
    # the class contribution each rating is explained by (bad: P(bad) head, average:
    # P(>= average) head, good: minus that head)
    head = np.where(picked == "bad", 1, 0)
    c = model.contributions(sub, head)[:, :-1].astype(np.float64)
    c[picked == "good"] *= -1.0
    # per base feature sums, added column by column in encoder order so the floats
    # (and hence the ranking on near-ties) match a per-row Python loop exactly
    bases = list(dict.fromkeys(_base_feature(col) for col in cols))
    where = {b: k for k, b in enumerate(bases)}
    agg = np.zeros((len(picked), len(bases)))
    for k, col in enumerate(cols):
        agg[:, where[_base_feature(col)]] += c[:, k]
    order = np.argsort(-agg, axis=1, kind="stable")
    out = []
    for j in range(len(picked)):
        worse = picked[j] != "good"
        row = rows[j]
        reasons: list[dict[str, Any]] = []
        first = None
        for b in order[j]:
            v = agg[j, b]
            if not v > 0:
                break
            reason = _reason(bases[b], float(v), row, reference, worse)
            first = first or reason
            if reads_right(reason, worse) and all(reason["text"] != x["text"] for x in reasons):
                reasons.append(reason)
            if len(reasons) == top:
                break
        if not reasons:
            k = where.get(_mean_late_feature(row))
            contrib = None if k is None else float(agg[j, k])
            reasons = _fallback(row, reference, worse, first, contrib)
        out.append(reasons)
    return out


def _rule_reasons(
    rows: _Rows, picked: np.ndarray, reference: dict[str, float], top: int
) -> list[list[dict[str, Any]]]:
    """Reasons of the rule rating: its mean days late, and the overdue amount if any."""
    out = []
    for j in range(len(picked)):
        row = rows[j]
        worse = picked[j] != "good"
        feats = [_mean_late_feature(row)]
        if _clean(row.get("overdue_amt")):
            feats.append("overdue_amt")
        reasons = [_reason(f, None, row, reference, worse) for f in feats[:top]]
        out.append([r for r in reasons if reads_right(r, worse)] or reasons[:1])
    return out


def reads_right(reason: dict[str, Any], worse: bool) -> bool:
    """Whether the customer's value sits on the side of the reference its direction says.

    A risk-raising reason needs a value strictly riskier than the portfolio reference; a
    risk-lowering one a value no riskier. Features without a fixed direction, and missing
    values or references, always read right.
    """
    sign = RISK_SIGN.get(reason["feature"])
    v, r = reason["value"], reason["reference"]
    if sign is None or not isinstance(v, float) or r is None:
        return True
    gap = (v - r) * sign
    return gap > 0 if worse else gap <= 0


def _fallback(
    row, reference, worse: bool, first: dict[str, Any] | None, contribution: float | None
) -> list[dict]:
    """The rule's reason (mean days late) if it reads right and pushes toward the rating.

    Otherwise the top contribution, so that every rated customer keeps a reason.
    """
    reason = _reason(_mean_late_feature(row), contribution, row, reference, worse)
    ok = reads_right(reason, worse) and (contribution is None or contribution > 0)
    if ok or first is None:
        return [reason]
    return [first]


class _Row:
    """One row of a frame read on demand (``get`` like a Series, without building one)."""

    __slots__ = ("_cols", "_j")

    def __init__(self, cols: dict[str, np.ndarray], j: int) -> None:
        self._cols, self._j = cols, j

    def get(self, key: str, default: Any = None) -> Any:
        col = self._cols.get(key)
        return default if col is None else col[self._j]


class _Rows:
    def __init__(self, block: FeatureBlock) -> None:
        self._cols = dict(block.columns)

    def __getitem__(self, j: int) -> _Row:
        return _Row(self._cols, j)


def _reason(
    feature: str,
    contribution: float | None,
    row: pd.Series,
    reference: dict[str, float],
    worse: bool,
) -> dict[str, Any]:
    group, text = sentence(feature, row, reference)
    codes = GROUP_CODES.get(group, ("OTHER", "OTHER"))
    value = row.get(feature) if "=" not in feature else row.get(_base_feature(feature))
    # the code follows the direction of the contribution: risk-raising or risk-lowering
    code = codes[0] if worse else codes[1]
    if text == "no invoice paid in the last 12 months":
        code = "NO_RECENT_PAYMENTS" if worse else code
    return {
        "code": code,
        "direction": RAISES_RISK if worse else LOWERS_RISK,
        "feature": feature,
        "value": _clean(value) if not isinstance(value, str) else value,
        "reference": _clean(reference.get(feature)),
        "contribution": None if contribution is None else round(float(contribution), 4),
        "text": text,
    }
