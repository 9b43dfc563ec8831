"""Payer archetypes of the synthetic generator: parameters and behaviour simulation.

Customers, their hidden behaviour parameters, invoices and the days each invoice is paid,
disputed, written off or partly paid, as numpy arrays (see :mod:`payer_model.data.generate`
for the archetypes' behaviour and for how the arrays become tables). Time is integer days
since 1970-01-01; every function draws from the generator it is given, in a fixed order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from payer_model.data.schema import CUSTOMER_TYPES

logger = logging.getLogger(__name__)

__all__ = [
    "ARCHETYPES",
    "COUNTRIES",
    "INDUSTRIES",
    "NO_DAY",
    "business_day",
    "draw_customers",
    "draw_invoices",
    "settle",
]

ARCHETYPES: tuple[str, ...] = (
    "prompt",
    "occasional_delay",
    "chronic_late",
    "deteriorating",
    "improving",
    "seasonal",
    "new",
    "defaulting",
)
"""Archetype names as written to ``truth.csv``."""
_ARCH_SHARES = np.array([0.30, 0.22, 0.12, 0.08, 0.06, 0.07, 0.08, 0.07])
_PROMPT, _OCCASIONAL, _CHRONIC, _DETERIORATING = 0, 1, 2, 3
_IMPROVING, _SEASONAL, _NEW, _DEFAULTING = 4, 5, 6, 7
_NEW_BASE = np.array([_PROMPT, _OCCASIONAL, _CHRONIC, _SEASONAL])
_NEW_BASE_P = np.array([0.30, 0.22, 0.12, 0.07])
_CUSTOMER_TYPE_P = np.array([0.88, 0.08, 0.04])

INDUSTRIES: tuple[tuple[str, float, float, float, tuple[float, float, float, float]], ...] = (
    ("retail", 0.16, 900.0, 0.0, (0.40, 0.50, 0.10, 0.00)),
    ("manufacturing", 0.18, 5_000.0, 1.0, (0.00, 0.50, 0.25, 0.25)),
    ("construction", 0.12, 12_000.0, 6.0, (0.00, 0.40, 0.30, 0.30)),
    ("wholesale", 0.14, 6_000.0, 1.0, (0.10, 0.60, 0.20, 0.10)),
    ("services", 0.18, 2_000.0, 0.5, (0.30, 0.60, 0.10, 0.00)),
    ("healthcare", 0.07, 3_000.0, 3.0, (0.00, 0.50, 0.20, 0.30)),
    ("public_sector", 0.05, 8_000.0, 8.0, (0.00, 0.50, 0.10, 0.40)),
    ("hospitality", 0.10, 600.0, 2.0, (0.50, 0.50, 0.00, 0.00)),
)
_TERMS = np.array([14, 30, 45, 60])
_SPECIAL_TERMS = np.array([7, 14, 30, 45, 60, 90])

COUNTRIES: tuple[tuple[str, float, str, str], ...] = (
    ("DE", 0.28, "EUR", "GmbH"),
    ("FR", 0.17, "EUR", "SAS"),
    ("NL", 0.10, "EUR", "B.V."),
    ("ES", 0.10, "EUR", "S.L."),
    ("IT", 0.10, "EUR", "S.r.l."),
    ("GB", 0.08, "GBP", "Ltd"),
    ("PL", 0.07, "PLN", "Sp. z o.o."),
    ("BE", 0.05, "EUR", "BV"),
    ("AT", 0.05, "EUR", "GmbH"),
)


@dataclass(frozen=True)
class Profile:
    """Portfolio-level knobs of the simulation; the default is the mixed sample portfolio.

    Every knob replaces a constant without changing which random numbers are drawn, so a
    profile changes behaviour, never the alignment of the random streams.
    """

    arch_shares: tuple[float, ...] = tuple(_ARCH_SHARES.tolist())
    fixed_terms: int | None = None  # every customer and invoice on these terms
    chronic_mean: tuple[float, float] = (35.0, 60.0)  # customer mean days late, chronic
    occasional_scale: float = 8.0  # gamma scale of an occasional delay
    occasional_max: float = 45.0
    churn_share: float = 0.06


DEFAULT_PROFILE = Profile()
SMALL_STABLE = Profile(
    # no new or defaulting payers; mostly prompt, a few chronic ones paying ~2-4 weeks late
    arch_shares=(0.50, 0.28, 0.10, 0.04, 0.04, 0.04, 0.0, 0.0),
    fixed_terms=30,
    chronic_mean=(15.0, 30.0),
    occasional_scale=3.0,
    occasional_max=20.0,
    churn_share=0.0,
)
"""A small, stable real-looking ledger: fixed 30-day terms, low and steady lateness."""

NO_DAY = np.iinfo(np.int32).max
"""Sentinel for 'never happens' in day arrays (compares later than any real day)."""


def business_day(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays to the following Monday (1970-01-01 was a Thursday)."""
    dow = (days + 3) % 7  # 0 = Monday
    return days + np.where(dow == 5, 2, np.where(dow == 6, 1, 0)).astype(days.dtype)


def _month_of(days: np.ndarray) -> np.ndarray:
    """Calendar month 0..11 of day numbers."""
    return (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12).astype(
        np.int8
    )


def _choice_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element from row-specific cumulative probabilities."""
    u = rng.random(rows.shape[0])
    return (u[:, None] >= cum[rows]).sum(axis=1).clip(0, cum.shape[1] - 1)


def _draw_master(
    rng: np.random.Generator, c: dict[str, np.ndarray], n: int, profile: Profile
) -> None:
    """Archetype, type, industry, country and payment terms (into ``c``)."""
    shares = np.asarray(profile.arch_shares, dtype=float)
    c["arch"] = rng.choice(len(ARCHETYPES), size=n, p=shares / shares.sum())
    c["behav"] = np.where(
        c["arch"] == _NEW,
        rng.choice(_NEW_BASE, size=n, p=_NEW_BASE_P / _NEW_BASE_P.sum()),
        c["arch"],
    )
    c["ctype"] = rng.choice(len(CUSTOMER_TYPES), size=n, p=_CUSTOMER_TYPE_P)
    ind_p = np.array([row[1] for row in INDUSTRIES])
    c["industry"] = rng.choice(len(INDUSTRIES), size=n, p=ind_p / ind_p.sum())
    cty_p = np.array([row[1] for row in COUNTRIES])
    c["country"] = rng.choice(len(COUNTRIES), size=n, p=cty_p / cty_p.sum())
    # PLN customers are only half of the Polish ones; the rest invoice in EUR.
    c["local_currency"] = rng.random(n) < 0.5

    # Payment terms: industry-dependent; 5 % actually get 15 days more than the master
    # data says (stale master data); 2 % have no terms recorded at all.
    terms_cum = np.cumsum(np.array([row[4] for row in INDUSTRIES]), axis=1)
    c["terms"] = _TERMS[_choice_rows(rng, terms_cum, c["industry"])].astype(np.int32)
    c["true_terms"] = c["terms"] + np.where(rng.random(n) < 0.05, 15, 0).astype(np.int32)
    c["terms_missing"] = rng.random(n) < 0.02
    if profile.fixed_terms is not None:
        c["terms"] = np.full(n, profile.fixed_terms, dtype=np.int32)
        c["true_terms"] = c["terms"].copy()
        c["terms_missing"] = np.zeros(n, dtype=bool)


def _draw_activity(  # noqa: PLR0917
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    n: int,
    start_day: int,
    end_day: int,
    profile: Profile,
) -> None:
    """Creation date, default day and the window in which a customer is invoiced."""
    span = end_day - start_day
    # Created before the range (0.3-10 years); "new" customers in its last ~6 months.
    created_before = start_day - rng.integers(90, 3650, size=n)
    created_new = end_day - rng.integers(14, 183, size=n)
    c["created"] = np.where(c["arch"] == _NEW, created_new, created_before).astype(np.int32)

    # Activity window: defaulting customers are invoiced for up to 3 months after their
    # default; 6 % of the other mature customers stop buying (churn) mid-range.
    c["default_day"] = (start_day + rng.uniform(0.2, 1.1, size=n) * span).astype(np.int32)
    c["default_day"] = np.where(c["arch"] == _DEFAULTING, c["default_day"], NO_DAY)
    c["ramp_len"] = rng.integers(60, 150, size=n).astype(np.int32)
    c["ramp_add"] = rng.uniform(30.0, 60.0, size=n)
    churn_day = (start_day + rng.uniform(0.3, 1.0, size=n) * span).astype(np.int32)
    churns = (rng.random(n) < profile.churn_share) & np.isin(
        c["arch"], [_PROMPT, _OCCASIONAL, _CHRONIC, _SEASONAL, _DETERIORATING, _IMPROVING]
    )
    active_from = np.maximum(c["created"], start_day)
    active_to = np.full(n, end_day, dtype=np.int64)
    active_to = np.where(churns, churn_day, active_to)
    stop_after_default = c["default_day"].astype(np.int64) + rng.integers(0, 90, size=n)
    active_to = np.where(
        c["arch"] == _DEFAULTING, np.minimum(active_to, stop_after_default), active_to
    )
    c["active_from"] = active_from.astype(np.int32)
    c["active_len"] = np.maximum(active_to - active_from, 0).astype(np.int32)


def _draw_behaviour(  # noqa: PLR0917
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    n: int,
    start_day: int,
    span: int,
    invoices_per_month: float,
    profile: Profile,
) -> None:
    """Invoice rate and size, and the parameters of every archetype's lateness."""
    # Invoice frequency: lognormal around invoices_per_month (mean preserved).
    sigma = 0.8
    c["rate"] = invoices_per_month * np.exp(rng.normal(-(sigma**2) / 2, sigma, size=n))
    c["rate"] = c["rate"].clip(0.05, 30.0)
    med = np.array([row[2] for row in INDUSTRIES])
    c["size"] = med[c["industry"]] * np.exp(rng.normal(0.0, 0.7, size=n))

    # Behaviour parameters (drawn for everyone; used by the matching archetype only).
    c["offset"] = rng.normal(0.0, 2.0, size=n)
    ind_off = np.array([row[3] for row in INDUSTRIES])
    c["offset"] += ind_off[c["industry"]] * rng.uniform(0.5, 1.5, size=n)
    c["occ_p"] = rng.beta(2.5, 7.5, size=n)
    c["occ_p"] = np.where(c["arch"] == _DEFAULTING, c["occ_p"] * 0.6, c["occ_p"])
    c["chronic_mean"] = rng.uniform(*profile.chronic_mean, size=n)
    c["change_day"] = (start_day + rng.uniform(0.3, 0.7, size=n) * span).astype(np.int32)
    c["change_len"] = rng.integers(90, 183, size=n).astype(np.int32)
    c["season_mean"] = rng.uniform(30.0, 50.0, size=n)
    first = rng.integers(0, 12, size=n)
    length = rng.integers(2, 4, size=n)
    mask = np.zeros(n, dtype=np.int32)
    for k in range(3):  # three bit operations, not a loop over customers
        mask |= np.where(k < length, 1 << ((first + k) % 12), 0).astype(np.int32)
    c["season_mask"] = mask
    c["predue"] = rng.random(n) < 0.2
    c["limit_missing"] = rng.random(n) < 0.03


def draw_customers(
    rng: np.random.Generator,
    *,
    n: int,
    start_day: int,
    end_day: int,
    invoices_per_month: float,
    profile: Profile = DEFAULT_PROFILE,
) -> dict[str, np.ndarray]:
    """Draw the customer master data and the hidden behaviour parameters."""
    c: dict[str, np.ndarray] = {}
    _draw_master(rng, c, n, profile)
    _draw_activity(rng, c, n, start_day, end_day, profile)
    _draw_behaviour(rng, c, n, start_day, end_day - start_day, invoices_per_month, profile)
    c["occ_scale"] = np.full(n, profile.occasional_scale)
    c["occ_max"] = np.full(n, profile.occasional_max)
    c["fixed_terms"] = np.full(n, profile.fixed_terms is not None)
    return c


def _lateness(
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    ci: np.ndarray,
    due: np.ndarray,
    size_z: np.ndarray,
) -> np.ndarray:
    """Days late per invoice before disputes, shift and default (float, unrounded).

    Each archetype's draws are made for its own invoices only; the draw sizes depend on
    the invoices, never on ``shift_from``, so the streams stay aligned across shifts.
    """
    n = ci.shape[0]
    behav = c["behav"][ci]
    # Prompt baseline (also the on-time regime of the other archetypes): about -2 +- 2
    # days, clipped to -7..+3, with 3 % small lapses of 4-15 days.
    late = rng.normal(-2.0, 2.0, size=n).clip(-7.0, 3.0)
    lapse = np.flatnonzero(rng.random(n) < 0.03)
    late[lapse] = rng.uniform(4.0, 15.0, size=lapse.size)
    del lapse

    # Occasional delay (and the defaulting base): a customer-specific share of invoices
    # 5-45 days late.
    m = np.flatnonzero((behav == _OCCASIONAL) | (behav == _DEFAULTING))
    cm = ci[m]
    hit = rng.random(m.size) < c["occ_p"][cm]
    occ = (5.0 + rng.gamma(2.0, 1.0, size=m.size) * c["occ_scale"][cm]).clip(5.0, c["occ_max"][cm])
    late[m] = np.where(hit, occ, late[m])

    # Defaulting: an early-warning ramp of +30-60 days over 2-5 months before default.
    m = np.flatnonzero(behav == _DEFAULTING)
    cm = ci[m]
    ramp_len = c["ramp_len"][cm]
    ramp_from = c["default_day"][cm].astype(np.int64) - ramp_len
    late[m] += ((due[m] - ramp_from) / ramp_len).clip(0.0, 1.0) * c["ramp_add"][cm]

    # Chronic: gamma with a customer mean of 35-60 days. Deteriorating / improving blend
    # linearly from prompt to chronic (or back) over 3-6 months after the change date.
    m = np.flatnonzero((behav == _CHRONIC) | (behav == _DETERIORATING) | (behav == _IMPROVING))
    cm = ci[m]
    chronic = c["chronic_mean"][cm] * rng.gamma(3.0, 1.0 / 3.0, size=m.size)
    w = ((due[m] - c["change_day"][cm]) / c["change_len"][cm]).clip(0.0, 1.0)
    bm = behav[m]
    w = np.where(bm == _DETERIORATING, w, np.where(bm == _IMPROVING, 1.0 - w, 1.0))
    late[m] = (1.0 - w) * late[m] + w * chronic
    del chronic, w, bm

    # Seasonal: 30-50 days late in the customer's 2-3 calendar months (by due date).
    m = np.flatnonzero(behav == _SEASONAL)
    cm = ci[m]
    in_season = ((c["season_mask"][cm] >> _month_of(due[m])) & 1).astype(bool)
    seasonal = c["season_mean"][cm] + rng.normal(0.0, 6.0, size=m.size)
    late[m] = np.where(in_season, seasonal, late[m])

    # Customer and industry offsets; larger invoices (within the customer) a bit later.
    late += c["offset"][ci]
    late += size_z
    return late


def draw_invoices(
    rng: np.random.Generator, c: dict[str, np.ndarray], end_day: int
) -> dict[str, np.ndarray]:
    """Invoice counts, dates, amounts and due dates, in chronological order."""
    counts = rng.poisson(c["rate"] * c["active_len"] / 30.4375)
    ci = np.repeat(np.arange(counts.shape[0], dtype=np.int32), counts)
    offset = np.floor(rng.random(ci.shape[0]) * c["active_len"][ci]).astype(np.int32)
    inv_day = business_day(c["active_from"][ci] + offset)
    del offset
    # Chronological numbering: sort by invoice date, then customer; the weekend shift may
    # push a few invoices past the end.
    order = np.lexsort((ci, inv_day))
    order = order[inv_day[order] < end_day]
    ci, inv_day = ci[order], inv_day[order]
    del order
    n = ci.shape[0]

    is_credit = rng.random(n) < 0.02
    size_z = rng.normal(0.0, 1.0, size=n)
    amount = np.round(c["size"][ci] * np.exp(0.9 * size_z), 2).clip(5.0, None)
    credit_frac = rng.uniform(0.05, 1.0, size=n)
    amount = np.where(is_credit, -np.round(amount * credit_frac, 2).clip(1.0, None), amount)
    del credit_frac
    # 8 % of invoices carry special terms agreed for that deal.
    special = (rng.random(n) < 0.08) & ~c["fixed_terms"][ci]
    terms = np.where(
        special, _SPECIAL_TERMS[rng.integers(0, len(_SPECIAL_TERMS), size=n)], c["true_terms"][ci]
    ).astype(np.int32)
    due = np.where(is_credit, inv_day, inv_day + terms).astype(np.int32)
    return {
        "ci": ci,
        "inv_day": inv_day,
        "due": due,
        "amount": amount,
        "is_credit": is_credit,
        "size_z": size_z,
    }


def _draw_disputes(
    drng: np.random.Generator,
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    late: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Disputes (they delay payment: ``late`` is updated) and lost invoices.

    Returns:
        (disputed, lost, uniform draw placing the dispute day, write-off day)
    """
    ci, due, is_credit = inv["ci"], inv["due"], inv["is_credit"]
    n = ci.shape[0]
    behav = c["behav"][ci]
    risky = (behav == _CHRONIC) | (behav == _DETERIORATING) | (behav == _DEFAULTING)
    dispute = (drng.random(n) < np.where(risky, 0.045, 0.025)) & ~is_credit
    lost = (drng.random(n) < 0.01) & (behav == _CHRONIC)  # never paid, written off
    del behav, risky
    late += np.where(dispute, drng.uniform(15.0, 45.0, size=n), 0.0)  # disputes delay payment
    dispute_u = drng.random(n, dtype=np.float32)
    wo_day = due + drng.integers(150, 181, size=n, dtype=np.int32)
    return dispute, lost, dispute_u, wo_day


def _apply_shift(
    srng: np.random.Generator,
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    late: np.ndarray,
    shift_day: int | None,
) -> None:
    """Add the behaviour shift to ``late`` (the draws are made even without a shift)."""
    ci, due = inv["ci"], inv["due"]
    shifted = srng.random(c["rate"].shape[0]) < 0.3
    shift_add = srng.uniform(25.0, 45.0, size=shifted.shape[0])
    if shift_day is not None:
        hit = shifted[ci] & (due >= shift_day)
        late += np.where(hit, shift_add[ci], 0.0)
        logger.info(
            "behaviour shift: %d customers, %d invoices due on or after day %d",
            int(shifted.sum()),
            int(hit.sum()),
            shift_day,
        )


def _draw_partials(
    prng: np.random.Generator,
    inv: dict[str, np.ndarray],
    settle_day: np.ndarray,
    default_day: np.ndarray,
    end_day: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial payments before settlement: (selected, day, fraction of the amount)."""
    inv_day, is_credit = inv["inv_day"], inv["is_credit"]
    n = inv_day.shape[0]
    part_u = prng.random(n, dtype=np.float32)
    part_frac = prng.uniform(0.2, 0.8, size=n)
    part_sel = prng.random(n) < 0.055
    part_day = inv_day + 1 + np.floor(part_u * (settle_day - inv_day - 1)).astype(np.int32)
    del part_u
    limit_day = np.minimum(np.minimum(settle_day, default_day), end_day)
    partial = part_sel & ~is_credit & (settle_day - inv_day >= 3) & (part_day < limit_day)
    return partial, part_day, part_frac


def settle(
    streams: dict[str, np.random.Generator],
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    end_day: int,
    shift_day: int | None,
) -> None:
    """Add payment, dispute, write-off and partial-payment days to ``inv`` (in place)."""
    ci, inv_day, due, is_credit = inv["ci"], inv["inv_day"], inv["due"], inv["is_credit"]
    late = _lateness(streams["lateness"], c, ci, due, inv.pop("size_z"))
    dispute, lost, dispute_u, wo_day = _draw_disputes(streams["disputes"], c, inv, late)
    _apply_shift(streams["shift"], c, inv, late, shift_day)

    pay_day = (due + np.rint(late)).astype(np.int32)
    del late
    pay_day = business_day(np.maximum(pay_day, inv_day))
    default_day = c["default_day"][ci]
    never = ((pay_day >= default_day) | lost) & ~is_credit
    del lost
    pay_day = np.where(is_credit, inv_day, np.where(never, NO_DAY, pay_day)).astype(np.int32)
    settle_day = np.where(never, wo_day, pay_day)  # the day dunning would stop at the latest

    # A dispute is raised between the invoice and the settlement; one raised after the
    # data end is not known at the end, so it is not recorded.
    span = np.maximum(settle_day - inv_day - 1, 1)
    dispute_day = inv_day + 1 + np.floor(dispute_u * span).astype(np.int32)
    del dispute_u, span
    dispute &= (dispute_day < end_day) & (dispute_day < settle_day)

    partial, part_day, part_frac = _draw_partials(
        streams["payments"], inv, settle_day, default_day, end_day
    )
    del default_day, settle_day
    inv.update(
        pay_day=pay_day,
        paid=pay_day < end_day,
        never=never,
        wo_day=wo_day,
        written_off=never & (wo_day < end_day),
        dispute=dispute,
        dispute_day=dispute_day,
        partial=partial,
        part_day=part_day,
        part_amount=np.round(inv["amount"] * part_frac, 2),
    )
