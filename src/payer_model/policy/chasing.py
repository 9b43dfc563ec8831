"""Logged chasing decisions as a learning and evaluation frame, and the three-way comparison.

A logged decision (``chase_log``: invoice, decision date, action, propensity) gets:

* its **context** as of the decision date: the customer's features as of the month start
  on or before it (the as-of rule: nothing on or after the cutoff) plus what is known about
  the invoice itself (amount, terms, due weekday, amount relative to the customer's mean);
* its **outcomes**: paid within 7 / 14 / 30 days of the decision (the payment is on or after
  the decision: the invoice was open then), days to cash (capped at :data:`CASH_CAP_DAYS`),
  cash collected within 30 days, whether the reminder was sent, and per timing whether the
  invoice was paid within ``useless_days`` of that timing's send day (``anyway_<t>``);

A reminder is *useless* when the invoice would have been paid within ``useless_days`` of it
anyway, without it: a counterfactual, estimated from the decisions logged with no reminder
(inverse propensity of ``none``) at the send day the target policy would have used. Payments
a reminder caused do not count as useless (a replay of history cannot tell them apart).

and :func:`compare_policies` estimates, off-policy, what the learned policy, the fixed
playbook and the baseline would have done on the same decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.chase import DECISION_OFFSET, NO_REMINDER, TIMINGS, parse_action
from payer_model.policy.offpolicy import Estimate, bootstrap_means, logged_target_prob

CASH_CAP_DAYS = 60
"""Days to cash are capped here; a decision needs this many days of data after it."""
CONTEXT_FEATURES: tuple[str, ...] = (
    "wmean_days_late",
    "wmean_days_late_12m",
    "last5_mean_days_late",
    "share_late_15",
    "trend_days_late",
    "overdue_share",
    "open_n",
    "mean_invoice_amt",
    "tenure_days",
    "dispute_rate",
    "reminder_response_rate",
    "paid_n",
    "log_amount",
    "amount_rel",
    "terms_days",
    "due_weekday",
)
"""Context features of the uplift model (customer as of the month start, invoice at T)."""


def decision_frame(
    chase_log: pd.DataFrame,
    invoices: pd.DataFrame,
    customer_features: pd.DataFrame,
    useless_days: int = 3,
) -> pd.DataFrame:
    """One row per logged decision: context features, action, propensity and outcomes.

    Args:
        chase_log: ``invoice_id``, ``customer_id``, ``decision_date``, ``action``,
            ``propensity``, ``sent``.
        invoices: the validated invoices (``invoice_date``, ``due_date``, ``amount``,
            ``paid_date``).
        customer_features: :func:`payer_model.features.compute` at month starts covering
            the decision dates (``as_of`` = month start).
        useless_days: a sent reminder is useless when paid within this many days of it.

    Returns:
        The frame (``CONTEXT_FEATURES`` plus ``action``, ``propensity``, ``sent``,
        ``useless``, ``paid_7``, ``paid_14``, ``paid_30``, ``cash_30``, ``days_to_cash``,
        ``amount``, ``decision_date``, ``month``, ``customer_id``, ``invoice_id``).
    """
    log = chase_log.copy()
    log["decision_date"] = pd.to_datetime(log["decision_date"]).astype("datetime64[us]")
    inv = invoices[["invoice_id", "invoice_date", "due_date", "amount", "paid_date"]]
    df = log.merge(inv, on="invoice_id", how="inner")
    d = df["decision_date"]
    df["month"] = d.dt.to_period("M").dt.to_timestamp().astype("datetime64[us]")
    cf = customer_features.copy()
    cf["as_of"] = pd.to_datetime(cf["as_of"]).astype("datetime64[us]")
    cf["customer_id"] = cf["customer_id"].astype(str)
    df = df.merge(cf.rename(columns={"as_of": "month"}), on=["customer_id", "month"], how="left")
    df["log_amount"] = np.log1p(df["amount"].clip(lower=0))
    df["amount_rel"] = df["amount"] / df["mean_invoice_amt"].where(df["mean_invoice_amt"] > 0)
    df["terms_days"] = (df["due_date"] - df["invoice_date"]).dt.days.astype(float)
    df["due_weekday"] = df["due_date"].dt.weekday.astype(float)

    lag = (df["paid_date"] - d).dt.days  # NaN: not paid (by the data end)
    for h in (7, 14, 30):
        df[f"paid_{h}"] = (lag < h).astype(float)
    df["cash_30"] = df["amount"] * df["paid_30"]
    df["days_to_cash"] = lag.fillna(CASH_CAP_DAYS).clip(upper=CASH_CAP_DAYS).astype(float)
    offset = df["action"].map(lambda a: _timing(a) - DECISION_OFFSET)
    send = d + pd.to_timedelta(offset, unit="D")
    df["sent"] = df["sent"].astype(bool).astype(float)
    df["useless"] = df["sent"] * ((df["paid_date"] - send).dt.days.between(0, useless_days))
    for t in TIMINGS:  # paid within useless_days of a send on that timing's day
        lag_t = lag - (t - DECISION_OFFSET)
        df[f"anyway_{t}"] = lag_t.between(0, useless_days).astype(float)
    return df.reset_index(drop=True)


def _timing(action: str) -> int:
    parsed = parse_action(action)
    return DECISION_OFFSET if parsed is None else parsed[1]


def observed_until(frame: pd.DataFrame, data_end: pd.Timestamp) -> pd.Series:
    """Decisions whose outcomes are all observed before ``data_end``."""
    return frame["decision_date"] + pd.Timedelta(days=CASH_CAP_DAYS) <= data_end


METRICS: dict[str, str] = {
    "reminders": "sent",
    "paid_14": "paid_14",
    "days_to_cash": "days_to_cash",
    "cash_30": "cash_30",
}


def compare_policies(
    frame: pd.DataFrame,
    targets: Mapping[str, pd.Series],
    q: Mapping[str, pd.DataFrame] | None = None,
    *,
    reference: str = "playbook",
    n_boot: int = 200,
    alpha: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """IPS (and DR where an outcome model is given) of each metric under each target policy.

    Args:
        frame: :func:`decision_frame` rows (the evaluation window).
        targets: policy name -> the action it takes per row (deterministic policies).
        q: outcome-model predictions per action for ``paid_14`` / ``cash_30`` (DR), or None.
        reference: the policy differences are taken against.
        n_boot: bootstrap resamples (shared: differences and rates get paired intervals).
        alpha: 1 - interval coverage.
        seed: random seed.

    Returns:
        ``{"decisions": n, "policies": {name: {metric: {"ips": .., "dr": ..}}},
        "vs_<reference>": {name: {metric: ..}}}``; ``reminders`` is a count over the
        decisions, ``useless_rate`` = useless / reminders, the rest means per decision.
    """
    n = len(frame)
    actions = frame["action"].to_numpy(dtype=object)
    prop = frame["propensity"].to_numpy(dtype=float)
    terms: dict[str, np.ndarray] = {}
    for name, chosen in targets.items():
        cols = sorted({*chosen.unique(), *frame["action"].unique()})
        onehot = pd.DataFrame({c: (chosen.to_numpy() == c).astype(float) for c in cols})
        tp = logged_target_prob(onehot, actions)
        w = tp / prop
        for metric, col in METRICS.items():
            terms[f"{name}|{metric}|ips"] = w * frame[col].to_numpy(dtype=float)
        terms[f"{name}|useless|ips"] = _useless_terms(frame, chosen)
        for metric, qq in (q or {}).items():
            qa = qq.reindex(columns=cols).fillna(0.0)
            q_target = (onehot.to_numpy() * qa.to_numpy()).sum(axis=1)
            q_logged = logged_target_prob(qa, actions)
            r = frame[metric].to_numpy(dtype=float)
            terms[f"{name}|{metric}|dr"] = q_target + w * (r - q_logged)
    for key in [k for k in terms if k.startswith(f"{reference}|")]:
        _, metric, method = key.split("|")
        for name in targets:
            if name != reference:
                terms[f"{name}-{reference}|{metric}|{method}"] = (
                    terms[f"{name}|{metric}|{method}"] - terms[key]
                )
    ratios = {
        f"{name}|useless_rate|ips": (f"{name}|useless|ips", f"{name}|reminders|ips")
        for name in targets
    }
    est = bootstrap_means(terms, n_boot=n_boot, alpha=alpha, seed=seed, ratios=ratios)
    out: dict[str, Any] = {"decisions": n, "policies": {}, f"vs_{reference}": {}}
    for key, raw in est.items():
        name, metric, method = key.split("|")
        # reminders: a count over the evaluated decisions
        e = Estimate(raw.value * n, raw.lo * n, raw.hi * n) if metric == "reminders" else raw
        group = f"vs_{reference}" if "-" in name else "policies"
        out[group].setdefault(name, {}).setdefault(metric, {})[method] = e.as_dict()
    return out


def _useless_terms(frame: pd.DataFrame, chosen: pd.Series) -> np.ndarray:
    """IPS terms of 'would have been paid within useless_days of the target's reminder anyway'.

    Only rows logged with no reminder carry the counterfactual (their payment day is the one
    without a reminder); the target's send day comes from its timing.
    """
    none = (frame["action"] == NO_REMINDER).to_numpy()
    p_none = frame["propensity"].to_numpy(dtype=float)
    anyway = np.zeros(len(frame))
    for t in TIMINGS:
        hit = chosen.map(lambda a, t=t: a != NO_REMINDER and _timing(a) == t).to_numpy(dtype=bool)
        anyway = np.where(hit, frame[f"anyway_{t}"].to_numpy(dtype=float), anyway)
    return np.where(none, anyway / p_none, 0.0)


def constant_policy(frame: pd.DataFrame, action: str = NO_REMINDER) -> pd.Series:
    """A policy taking ``action`` on every row."""
    return pd.Series(action, index=frame.index, dtype=object)
