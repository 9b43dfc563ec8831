"""Reminders that work: the generator's randomised chasing experiment (``--uplift``).

With ``generate_dataset(..., uplift=True)`` every invoice open three days before its due
date gets one decision of a **randomised logging policy**, drawn independently of
everything else with the documented propensities :data:`LOGGING_PROPENSITY`: no reminder, or
a reminder by one channel (email, SMS, letter, call) at one timing (:data:`TIMINGS`: 3 days
before, 1 or 5 days after the due date), in a tone drawn uniformly from :data:`TONES`. The
reminder goes out on its day if the invoice is still unpaid (paid on that day counts as
unpaid: the one as-of rule), and then, with probability ``effect``, the customer pays 1-4
days later (if that is sooner than they would have paid anyway). Disputed, partly paid and
never-paid invoices do not respond.

``effect = BASE_EFFECT[channel] x ARCHETYPE_EFFECT[archetype][channel] x customer factor x
TIMING_EFFECT[timing] x tone factor x WEEKDAY_EFFECT[weekday of the send day]`` (capped at
0.95); the tone factor is :data:`FIRM_TONE_EFFECT` (firm works on late payers, annoys
prompt ones) for ``firm``, 1 otherwise. The customer's structural effect per channel (neutral
tone, +1 day, mid-week) goes to ``truth.csv`` (``effect_<channel>``), and the true average
uplift per archetype and action in P(paid within 7 / 14 days of the decision), from the
potential outcomes of every logged decision under every action (same random draws), to
``chase_truth.csv``. Every decision, sent or not, is in ``chase_log.csv`` with its
propensity (the propensity of the action; tone is independent, 1/3 each); sent reminders
also carry ``propensity`` and ``tone`` in ``reminders``. Dunning steps from 20 days after
due run as before (no randomisation, no simulated effect, no propensity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from payer_model.data.schema import CHANNELS

TIMINGS: tuple[int, ...] = (-3, 1, 5)
"""Timing buckets: days relative to the due date (negative = before)."""
DECISION_OFFSET = -3
"""Decision date relative to the due date (the earliest timing)."""
NO_REMINDER = "none"
TONES: tuple[str, ...] = ("friendly", "neutral", "firm")
HORIZONS: tuple[int, ...] = (7, 14)


def action_name(channel: str, timing: int) -> str:
    """``email+1``, ``call-3``, ...: the name of a chasing action."""
    return f"{channel}{timing:+d}"


def parse_action(name: str) -> tuple[str, int] | None:
    """(channel, timing) of an action name; None for ``none``."""
    if name == NO_REMINDER:
        return None
    for ch in CHANNELS:
        if name.startswith(ch):
            return ch, int(name[len(ch) :])
    raise ValueError(f"unknown action '{name}'")


ACTIONS: tuple[str, ...] = (
    NO_REMINDER,
    *(action_name(ch, t) for ch in CHANNELS for t in TIMINGS),
)
"""Every action of the experiment, ``none`` first."""

_CHANNEL_P = {"email": 0.30, "sms": 0.18, "call": 0.12, "letter": 0.12}
LOGGING_PROPENSITY: dict[str, float] = {
    NO_REMINDER: 0.28,
    **{action_name(ch, t): _CHANNEL_P[ch] / len(TIMINGS) for ch in CHANNELS for t in TIMINGS},
}
"""The logging policy: P(action), the same for every invoice (channels x timings uniform)."""

BASE_EFFECT = {"email": 0.15, "sms": 0.22, "call": 0.40, "letter": 0.18}
# rows: archetypes in data.archetypes.ARCHETYPES order; columns: CHANNELS order
ARCHETYPE_EFFECT: dict[str, tuple[float, float, float, float]] = {
    "prompt": (0.5, 0.5, 0.5, 0.3),
    "occasional_delay": (1.0, 1.2, 1.2, 0.8),
    "chronic_late": (0.4, 0.6, 1.5, 1.2),
    "deteriorating": (0.8, 1.0, 1.3, 1.0),
    "improving": (1.0, 1.0, 1.0, 1.0),
    "seasonal": (0.6, 1.0, 1.4, 0.8),
    "new": (1.0, 1.0, 1.0, 1.0),
    "defaulting": (0.2, 0.2, 0.5, 0.3),
}
TIMING_EFFECT = {-3: 0.9, 1: 1.0, 5: 0.9}
WEEKDAY_EFFECT = (1.1, 1.0, 1.0, 1.0, 0.8, 0.6, 0.6)  # Monday .. Sunday
FIRM_TONE_EFFECT: dict[str, float] = {
    "chronic_late": 1.2,
    "deteriorating": 1.2,
    "defaulting": 1.2,
}
"""Firm tone multiplier per archetype; 0.8 for the archetypes not listed."""


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday


def _business_day(days: np.ndarray) -> np.ndarray:
    dow = _weekday(days)
    return days + np.where(dow == 5, 2, np.where(dow == 6, 1, 0)).astype(days.dtype)


def simulate_chase(
    rng: np.random.Generator,
    archetypes: tuple[str, ...],
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    end_day: int,
) -> dict[str, np.ndarray]:
    """Run the randomised chasing experiment on settled invoices (``inv`` updated in place).

    Args:
        rng: the experiment's own random stream.
        archetypes: archetype names (index = ``c["arch"]``).
        c: customer arrays (``arch``).
        inv: invoice arrays after :func:`payer_model.data.archetypes.settle`; ``pay_day``
            and ``paid`` are moved earlier where a reminder worked.
        end_day: data end (exclusive).

    Returns:
        Arrays of the decisions (``idx`` invoice index, ``day`` decision day, ``action``
        index into :data:`ACTIONS`, ``tone``, ``propensity``, ``sent``, ``send_day``),
        ``effect`` (customers x channels) and the true uplift table ``truth``.
    """
    n_cust = c["arch"].shape[0]
    resp = np.exp(rng.normal(0.0, 0.25, size=n_cust))
    arch_eff = np.array([ARCHETYPE_EFFECT[a] for a in archetypes])  # archetypes x channels
    base = np.array([BASE_EFFECT[ch] for ch in CHANNELS])
    effect = base[None, :] * arch_eff[c["arch"]] * resp[:, None]  # customers x channels

    ci, due, pay_day = inv["ci"], inv["due"], inv["pay_day"]
    dec_day = due + DECISION_OFFSET
    eligible = ~inv["is_credit"] & (dec_day >= inv["inv_day"]) & (pay_day >= dec_day)
    eligible &= dec_day < end_day
    idx = np.flatnonzero(eligible)
    n = idx.shape[0]
    probs = np.array([LOGGING_PROPENSITY[a] for a in ACTIONS])
    action = rng.choice(len(ACTIONS), size=n, p=probs / probs.sum())
    tone = rng.integers(0, len(TONES), size=n)
    u_effect = rng.random(n)
    lag = rng.integers(1, 5, size=n)

    responsive = ~(inv["dispute"] | inv["partial"] | inv["never"])[idx]
    arch_names = np.array(archetypes, dtype=object)[c["arch"][ci[idx]]]
    firm = np.array([FIRM_TONE_EFFECT.get(a, 0.8) for a in archetypes])[c["arch"][ci[idx]]]
    tone_f = np.where(tone == TONES.index("firm"), firm, 1.0)
    base_pay = pay_day[idx].astype(np.int64)

    def outcome(a_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pay day, sent, send day) of every decision under actions ``a_idx``."""
        ch = np.maximum(a_idx - 1, 0) // len(TIMINGS)
        timing = np.array(TIMINGS)[np.maximum(a_idx - 1, 0) % len(TIMINGS)]
        send = due[idx].astype(np.int64) + timing
        sent = (a_idx > 0) & (base_pay >= send) & (send < end_day)
        sent &= ~(inv["dispute"][idx] & (inv["dispute_day"][idx] < send))
        e = (
            effect[ci[idx], ch]
            * np.array([TIMING_EFFECT[t] for t in TIMINGS])[
                np.maximum(a_idx - 1, 0) % len(TIMINGS)
            ]
        )
        e = np.minimum(e * tone_f * np.array(WEEKDAY_EFFECT)[_weekday(send)], 0.95)
        works = sent & responsive & (u_effect < e)
        new_pay = _business_day(send + lag)
        return np.where(works & (new_pay < base_pay), new_pay, base_pay), sent, send

    pay, sent, send = outcome(action)
    inv["pay_day"] = inv["pay_day"].copy()
    inv["pay_day"][idx] = pay.astype(np.int32)
    inv["paid"] = inv["pay_day"] < end_day

    rows = []
    d0 = dec_day[idx].astype(np.int64)
    for k, name in enumerate(ACTIONS):  # 13 counterfactual worlds, each vectorised
        pay_k, _, _ = outcome(np.full(n, k))
        for h in HORIZONS:
            frame = pd.DataFrame({"archetype": arch_names, "y": (pay_k < d0 + h)})
            frame = frame[(d0 + h) <= end_day]  # only decisions whose horizon is observed
            means = frame.groupby("archetype")["y"].agg(["mean", "size"])
            for arch, row in means.iterrows():
                rows.append((arch, name, h, float(row["mean"]), int(row["size"])))
    truth = pd.DataFrame(rows, columns=["archetype", "action", "horizon", "p_paid", "decisions"])
    none = truth[truth["action"] == NO_REMINDER].set_index(["archetype", "horizon"])["p_paid"]
    truth["uplift"] = (
        truth["p_paid"]
        - none.reindex(pd.MultiIndex.from_frame(truth[["archetype", "horizon"]])).to_numpy()
    )
    return {
        "idx": idx,
        "ci": ci[idx],
        "day": dec_day[idx],
        "action": action,
        "tone": tone,
        "propensity": probs[action],
        "sent": sent,
        "send_day": send,
        "effect": effect,
        "truth": truth,
    }


def chase_tables(
    chase: dict[str, np.ndarray], invoice_ids: np.ndarray, customer_ids: np.ndarray
) -> dict[str, pd.DataFrame]:
    """``chase_log`` (every decision) and ``chase_truth`` tables of an experiment.

    Args:
        chase: the result of :func:`simulate_chase`.
        invoice_ids: invoice id per invoice index.
        customer_ids: customer id per decision (aligned with ``chase["idx"]``).

    Returns:
        The two tables.
    """
    idx = chase["idx"]
    log = pd.DataFrame(
        {
            "invoice_id": pd.Series(invoice_ids[idx], dtype="str"),
            "customer_id": pd.Series(customer_ids, dtype="str"),
            "decision_date": pd.Series(
                chase["day"].astype("datetime64[D]").astype("datetime64[ns]")
            ),
            "action": pd.Series(np.array(ACTIONS, dtype=object)[chase["action"]], dtype="str"),
            "tone": pd.Series(np.array(TONES, dtype=object)[chase["tone"]], dtype="str"),
            "propensity": chase["propensity"],
            "sent": chase["sent"],
        }
    )
    return {"chase_log": log, "chase_truth": chase["truth"]}


def effect_columns(effect: np.ndarray) -> dict[str, np.ndarray]:
    """``truth.csv`` columns: each customer's structural effect per channel."""
    return {f"effect_{ch}": np.round(effect[:, j], 4) for j, ch in enumerate(CHANNELS)}


def chase_reminders(
    rng: np.random.Generator,
    chase: dict[str, np.ndarray],
    idx_parts: list[np.ndarray],
    day_parts: list[np.ndarray],
    chan_parts: list[np.ndarray],
    u_parts: list[np.ndarray],
) -> dict[str, np.ndarray]:
    """Append the experiment's sent reminders to the dunning parts (in place).

    Returns:
        ``propensity`` and ``tone`` of every row of the concatenated parts (NaN / None for
        the dunning steps, which are not randomised).
    """
    n_steps = sum(p.shape[0] for p in idx_parts)
    sent = chase["sent"]
    action = chase["action"][sent]
    idx_parts.append(chase["idx"][sent])
    day_parts.append(chase["send_day"][sent].astype(np.int32))
    chan_parts.append(((action - 1) // len(TIMINGS)).astype(np.int8))  # ACTIONS follow CHANNELS
    u_parts.append(rng.random(int(sent.sum()), dtype=np.float32))
    tones = np.array(TONES, dtype=object)[chase["tone"][sent]]
    return {
        "propensity": np.concatenate([np.full(n_steps, np.nan), chase["propensity"][sent]]),
        "tone": np.concatenate([np.full(n_steps, None, dtype=object), tones]),
    }
