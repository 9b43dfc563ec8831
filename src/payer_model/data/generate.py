"""Synthetic B2B invoice and payment history with known payer archetypes.

The generator simulates customers, invoices, credit notes, partial payments, disputes,
write-offs and dunning reminders, all fully vectorised with numpy (no per-invoice Python
loops), so ten million invoices take well under a few minutes.

Every customer belongs to a behavioural *archetype* (returned in the ``truth`` table for
evaluation only, never a feature):

=================  =====  ==============================================================
archetype          share  behaviour (days late = paid_date - due_date)
=================  =====  ==============================================================
prompt             30 %   mostly -5..+3, rare small lapses
occasional_delay   22 %   on time, but ~25 % of invoices (customer-specific) 5-45 late
chronic_late       12 %   gamma, customer mean 35-60 days; ~1 % of invoices never paid
deteriorating       8 %   prompt until a change date mid-range, then ramps to chronic
improving           6 %   the reverse
seasonal            7 %   30-50 days late in 2-3 consecutive calendar months, else prompt
new                 8 %   created in the last ~6 months; behaves like another archetype
defaulting          7 %   lateness ramps up for 2-5 months before a default date, then no
                          payment at all; unpaid invoices written off ~150-180 days after due
=================  =====  ==============================================================

On top of the archetype: per-customer offsets, industry offsets (construction and public
sector slower), larger invoices slightly later, disputes delaying payment, and an optional
behaviour shift (``shift_from``) for drift tests.

Time is simulated as integer days since 1970-01-01. The data end is ``start + months``
(exclusive): no date in any table is on or after it; an invoice whose payment would fall
later is open at the end (empty ``paid_date``).

The random streams of every component are independent children of one
:class:`numpy.random.SeedSequence`, so a dataset is a pure function of its arguments, and a
run with ``shift_from`` differs from the same seed without it only in what the shift
causes (later payments, hence more reminders, fewer partial payments before the end, ...).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from payer_model.data.schema import (
    CHANNELS,
    CUSTOMER_TYPES,
    DATE_COLUMNS,
    DEFAULT_CURRENCY,
    DOCUMENT_TYPES,
)

logger = logging.getLogger(__name__)

__all__ = ["ARCHETYPES", "generate_dataset", "write_dataset"]

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
# A new customer behaves like one of the stationary archetypes (relative weights).
_NEW_BASE = np.array([_PROMPT, _OCCASIONAL, _CHRONIC, _SEASONAL])
_NEW_BASE_P = np.array([0.30, 0.22, 0.12, 0.07])

_CUSTOMER_TYPE_P = np.array([0.88, 0.08, 0.04])

# industry: share, median invoice amount, extra days late, terms probabilities 14/30/45/60
_INDUSTRIES: tuple[tuple[str, float, float, float, tuple[float, float, float, float]], ...] = (
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

# country, share, currency, company suffix
_COUNTRIES: tuple[tuple[str, float, str, str], ...] = (
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

# dunning sequence: (days relative to due date, channel); -3 only for pre-due customers
_REMINDER_STEPS: tuple[tuple[int, str], ...] = (
    (-3, "email"),
    (3, "email"),
    (10, "email"),
    (20, "sms"),
    (35, "call"),
    (50, "letter"),
    (70, "call"),
    (90, "letter"),
)
OUTCOMES: tuple[str, ...] = ("sent", "promise_to_pay", "no_response")
"""Reminder outcomes written to ``reminders.outcome``."""

_WORDS_A = np.array(
    [
        "Alpine", "Baltic", "Blue", "Bright", "Central", "Coastal", "Delta", "Eastern",
        "Euro", "First", "Golden", "Green", "Harbor", "Iron", "Lake", "Linden", "Meridian",
        "Nordic", "North", "Oak", "Pioneer", "Prime", "River", "Royal", "Silver", "Summit",
        "Sun", "United", "Vertex", "West",
    ]
)  # fmt: skip
_WORDS_B = np.array(
    [
        "Bau", "Builders", "Care", "Consulting", "Dynamics", "Electric", "Foods", "Freight",
        "Health", "Holdings", "Industries", "Logistics", "Machines", "Materials", "Media",
        "Metals", "Motors", "Partners", "Pharma", "Retail", "Services", "Solutions",
        "Supplies", "Systems", "Technik", "Textiles", "Tools", "Trading", "Trans", "Works",
    ]
)  # fmt: skip
_FIRST = np.array(
    [
        "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jan",
        "Klara", "Luca", "Marie", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tina", "Victor",
    ]
)  # fmt: skip
_LAST = np.array(
    [
        "Becker", "Costa", "Dubois", "Fischer", "Garcia", "Jansen", "Kowalski", "Lambert",
        "Martin", "Meyer", "Novak", "Peeters", "Rossi", "Schmidt", "Smith", "Visser",
        "Wagner", "Weber", "Wojcik", "Young",
    ]
)  # fmt: skip

_NAT = np.iinfo(np.int64).min
_NO_DAY = np.iinfo(np.int32).max
"""Sentinel for 'never happens' in day arrays (compares later than any real day)."""

_STREAMS = (
    "customers",
    "names",
    "invoices",
    "lateness",
    "disputes",
    "payments",
    "reminders",
    "shift",
)


def _to_day(value: str | pd.Timestamp) -> int:
    """Return the day number since 1970-01-01 of a date-like value."""
    return int(pd.Timestamp(value).normalize().value // 86_400_000_000_000)


def _business_day(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays to the following Monday (1970-01-01 was a Thursday)."""
    dow = (days + 3) % 7  # 0 = Monday
    return days + np.where(dow == 5, 2, np.where(dow == 6, 1, 0)).astype(days.dtype)


def _month_of(days: np.ndarray) -> np.ndarray:
    """Calendar month 0..11 of day numbers."""
    return (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12).astype(
        np.int8
    )


def _dates(days: np.ndarray, present: np.ndarray | None = None) -> pd.Series:
    """Day numbers to a ``datetime64[ns]`` Series, NaT where ``present`` is False."""
    seconds = days.astype(np.int64) * 86_400
    if present is not None:
        seconds = np.where(present, seconds, _NAT)
    return pd.Series(seconds.astype("datetime64[s]").astype("datetime64[ns]"))


def _ids(prefix: str, count: int, width: int) -> pa.Array:
    """Sequential string ids ``prefix`` + zero-padded 1..count."""
    width = max(width, len(str(count)))
    numbers = pc.cast(pa.array(np.arange(1, count + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def _str(values: pa.Array | np.ndarray) -> pd.Series:
    """A pandas ``str`` Series from an Arrow or numpy array."""
    return pd.Series(values, dtype="str")


def _choice_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element from row-specific cumulative probabilities."""
    u = rng.random(rows.shape[0])
    return (u[:, None] >= cum[rows]).sum(axis=1).clip(0, cum.shape[1] - 1)


def _customers(
    rng: np.random.Generator,
    name_rng: np.random.Generator,
    *,
    n: int,
    start_day: int,
    end_day: int,
    invoices_per_month: float,
) -> dict[str, np.ndarray]:
    """Draw the customer master data and the hidden behaviour parameters."""
    span = end_day - start_day
    c: dict[str, np.ndarray] = {}
    c["arch"] = rng.choice(len(ARCHETYPES), size=n, p=_ARCH_SHARES / _ARCH_SHARES.sum())
    c["behav"] = np.where(
        c["arch"] == _NEW,
        rng.choice(_NEW_BASE, size=n, p=_NEW_BASE_P / _NEW_BASE_P.sum()),
        c["arch"],
    )
    c["ctype"] = rng.choice(len(CUSTOMER_TYPES), size=n, p=_CUSTOMER_TYPE_P)
    ind_p = np.array([row[1] for row in _INDUSTRIES])
    c["industry"] = rng.choice(len(_INDUSTRIES), size=n, p=ind_p / ind_p.sum())
    cty_p = np.array([row[1] for row in _COUNTRIES])
    c["country"] = rng.choice(len(_COUNTRIES), size=n, p=cty_p / cty_p.sum())
    # PLN customers are only half of the Polish ones; the rest invoice in EUR.
    c["local_currency"] = rng.random(n) < 0.5

    # Payment terms: industry-dependent; 5 % actually get 15 days more than the master
    # data says (stale master data); 2 % have no terms recorded at all.
    terms_cum = np.cumsum(np.array([row[4] for row in _INDUSTRIES]), axis=1)
    c["terms"] = _TERMS[_choice_rows(rng, terms_cum, c["industry"])].astype(np.int32)
    c["true_terms"] = c["terms"] + np.where(rng.random(n) < 0.05, 15, 0).astype(np.int32)
    c["terms_missing"] = rng.random(n) < 0.02

    # Created before the range (0.3-10 years); "new" customers in its last ~6 months.
    created_before = start_day - rng.integers(90, 3650, size=n)
    created_new = end_day - rng.integers(14, 183, size=n)
    c["created"] = np.where(c["arch"] == _NEW, created_new, created_before).astype(np.int32)

    # Activity window: defaulting customers are invoiced for up to 3 months after their
    # default; 6 % of the other mature customers stop buying (churn) mid-range.
    c["default_day"] = (start_day + rng.uniform(0.2, 1.1, size=n) * span).astype(np.int32)
    c["default_day"] = np.where(c["arch"] == _DEFAULTING, c["default_day"], _NO_DAY)
    c["ramp_len"] = rng.integers(60, 150, size=n).astype(np.int32)
    c["ramp_add"] = rng.uniform(30.0, 60.0, size=n)
    churn_day = (start_day + rng.uniform(0.3, 1.0, size=n) * span).astype(np.int32)
    churns = (rng.random(n) < 0.06) & np.isin(
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

    # Invoice frequency: lognormal around invoices_per_month (mean preserved).
    sigma = 0.8
    c["rate"] = invoices_per_month * np.exp(rng.normal(-(sigma**2) / 2, sigma, size=n))
    c["rate"] = c["rate"].clip(0.05, 30.0)
    med = np.array([row[2] for row in _INDUSTRIES])
    c["size"] = med[c["industry"]] * np.exp(rng.normal(0.0, 0.7, size=n))

    # Behaviour parameters (drawn for everyone; used by the matching archetype only).
    c["offset"] = rng.normal(0.0, 2.0, size=n)
    ind_off = np.array([row[3] for row in _INDUSTRIES])
    c["offset"] += ind_off[c["industry"]] * rng.uniform(0.5, 1.5, size=n)
    c["occ_p"] = rng.beta(2.5, 7.5, size=n)
    c["occ_p"] = np.where(c["arch"] == _DEFAULTING, c["occ_p"] * 0.6, c["occ_p"])
    c["chronic_mean"] = rng.uniform(35.0, 60.0, size=n)
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

    # Names and e-mails (PII placeholders) use their own stream so they never shift
    # the behaviour draws.
    c["name_a"] = name_rng.integers(0, len(_WORDS_A), size=n)
    c["name_b"] = name_rng.integers(0, len(_WORDS_B), size=n)
    c["first"] = name_rng.integers(0, len(_FIRST), size=n)
    c["last"] = name_rng.integers(0, len(_LAST), size=n)
    return c


def _customer_table(c: dict[str, np.ndarray], ids: pa.Array) -> pd.DataFrame:
    """Assemble the customers table from the drawn attributes."""
    n = len(ids)
    person = c["ctype"] == CUSTOMER_TYPES.index("individual")
    suffix = np.array([row[3] for row in _COUNTRIES])[c["country"]]
    company = pd.Series(_WORDS_A[c["name_a"]]) + " " + _WORDS_B[c["name_b"]] + " " + suffix
    first = pd.Series(_FIRST[c["first"]])
    last = pd.Series(_LAST[c["last"]])
    human = first + " " + last
    # Sole traders trade under their own name plus a trade word.
    trader = human + " " + _WORDS_B[c["name_b"]]
    is_trader = c["ctype"] == CUSTOMER_TYPES.index("sole_trader")
    name = np.where(person, human, np.where(is_trader, trader, company))
    number = pd.Series(np.arange(1, n + 1)).astype(str)
    slug = (pd.Series(_WORDS_A[c["name_a"]]) + "-" + _WORDS_B[c["name_b"]]).str.lower()
    mail_person = first.str.lower() + "." + last.str.lower() + number + "@example.com"
    mail_company = "accounts@" + slug + "-" + number + ".example.org"
    email = np.where(person | is_trader, mail_person, mail_company)

    expected_month = c["rate"] * c["size"] * np.exp(0.9**2 / 2)
    limit = np.maximum(np.round(2.0 * expected_month / 1000.0) * 1000.0, 1000.0)
    terms = pd.array(c["terms"], dtype="Int64")
    terms[c["terms_missing"]] = pd.NA
    return pd.DataFrame(
        {
            "customer_id": _str(ids),
            "customer_type": _labels(CUSTOMER_TYPES, c["ctype"]),
            "industry": _labels([row[0] for row in _INDUSTRIES], c["industry"]),
            "country": _labels([row[0] for row in _COUNTRIES], c["country"]),
            "payment_terms_days": terms,
            "credit_limit": np.where(c["limit_missing"], np.nan, limit),
            "created_date": _dates(c["created"]),
            "name": _str(name),
            "email": _str(email),
        }
    )


def _labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pd.Series:
    """A ``str`` Series of ``names[codes]`` built in Arrow (no Python string objects)."""
    return _str(pa.array(list(names), pa.string()).take(pa.array(codes)))


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
    occ = (5.0 + rng.gamma(2.0, 8.0, size=m.size)).clip(5.0, 45.0)
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


def _ymd(value: str) -> str:
    """ISO form of a date-like string (for log messages)."""
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _draw_invoices(
    rng: np.random.Generator, c: dict[str, np.ndarray], end_day: int
) -> dict[str, np.ndarray]:
    """Invoice counts, dates, amounts and due dates, in chronological order."""
    counts = rng.poisson(c["rate"] * c["active_len"] / 30.4375)
    ci = np.repeat(np.arange(counts.shape[0], dtype=np.int32), counts)
    offset = np.floor(rng.random(ci.shape[0]) * c["active_len"][ci]).astype(np.int32)
    inv_day = _business_day(c["active_from"][ci] + offset)
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
    special = rng.random(n) < 0.08
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


def _settle(
    streams: dict[str, np.random.Generator],
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    end_day: int,
    shift_day: int | None,
) -> None:
    """Add payment, dispute, write-off and partial-payment days to ``inv`` (in place)."""
    ci, inv_day, due, is_credit = inv["ci"], inv["inv_day"], inv["due"], inv["is_credit"]
    n = ci.shape[0]
    late = _lateness(streams["lateness"], c, ci, due, inv.pop("size_z"))

    drng = streams["disputes"]
    behav = c["behav"][ci]
    risky = (behav == _CHRONIC) | (behav == _DETERIORATING) | (behav == _DEFAULTING)
    dispute = (drng.random(n) < np.where(risky, 0.045, 0.025)) & ~is_credit
    lost = (drng.random(n) < 0.01) & (behav == _CHRONIC)  # never paid, written off
    del behav, risky
    late += np.where(dispute, drng.uniform(15.0, 45.0, size=n), 0.0)  # disputes delay payment
    dispute_u = drng.random(n, dtype=np.float32)
    wo_day = due + drng.integers(150, 181, size=n, dtype=np.int32)

    srng = streams["shift"]
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
        del hit

    pay_day = (due + np.rint(late)).astype(np.int32)
    del late
    pay_day = _business_day(np.maximum(pay_day, inv_day))
    default_day = c["default_day"][ci]
    never = ((pay_day >= default_day) | lost) & ~is_credit
    del lost
    pay_day = np.where(is_credit, inv_day, np.where(never, _NO_DAY, pay_day)).astype(np.int32)
    settle = np.where(never, wo_day, pay_day)  # the day dunning would stop at the latest

    # A dispute is raised between the invoice and the settlement; one raised after the
    # data end is not known at the end, so it is not recorded.
    span = np.maximum(settle - inv_day - 1, 1)
    dispute_day = inv_day + 1 + np.floor(dispute_u * span).astype(np.int32)
    del dispute_u
    dispute &= (dispute_day < end_day) & (dispute_day < settle)

    prng = streams["payments"]
    part_u = prng.random(n, dtype=np.float32)
    part_frac = prng.uniform(0.2, 0.8, size=n)
    part_sel = prng.random(n) < 0.055
    part_day = inv_day + 1 + np.floor(part_u * (settle - inv_day - 1)).astype(np.int32)
    del part_u
    limit_day = np.minimum(np.minimum(settle, default_day), end_day)
    partial = part_sel & ~is_credit & (settle - inv_day >= 3) & (part_day < limit_day)
    del part_sel, limit_day, default_day, settle, span

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


def generate_dataset(  # noqa: PLR0917 - the documented positional API
    n_customers: int,
    months: int,
    seed: int = 0,
    start: str = "2023-01-01",
    shift_from: str | None = None,
    invoices_per_month: float = 1.5,
) -> dict[str, pd.DataFrame]:
    """Generate a synthetic receivables history with known payer archetypes.

    Args:
        n_customers: Number of customers (> 0).
        months: Length of the simulated range in months (> 0); the data end is
            ``start + months`` and is exclusive.
        seed: Random seed; the same arguments give identical tables.
        start: First day of the range (ISO date).
        shift_from: Optional ISO date. From that date a random ~30 % of customers pay
            25-45 days later (invoices due on or after it): a behaviour drift.
        invoices_per_month: Mean invoice rate per *active* customer-month; customer rates
            are lognormal around it (roughly 0.3 to 5 per month). New, churned and
            defaulted customers are active for part of the range only, so the invoice
            count is about ``0.89 * n_customers * months * invoices_per_month``.

    Returns:
        Tables ``customers``, ``invoices``, ``payments``, ``reminders`` and ``truth``
        (``customer_id``, ``archetype``; for evaluation only, never a feature).

    Raises:
        ValueError: If a size or the rate is not positive.
    """
    if n_customers <= 0 or months <= 0:
        raise ValueError(f"n_customers and months must be positive, got {n_customers}, {months}")
    if invoices_per_month <= 0:
        raise ValueError(f"invoices_per_month must be positive, got {invoices_per_month}")
    start_ts = pd.Timestamp(start).normalize()
    end_ts = start_ts + pd.DateOffset(months=months)
    start_day, end_day = _to_day(start_ts), _to_day(end_ts)
    shift_day = _to_day(shift_from) if shift_from is not None else None

    seeds = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    streams = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    c = _customers(
        streams["customers"],
        streams["names"],
        n=n_customers,
        start_day=start_day,
        end_day=end_day,
        invoices_per_month=invoices_per_month,
    )
    cust_ids = _ids("C", n_customers, 6)
    inv = _draw_invoices(streams["invoices"], c, end_day)
    _settle(streams, c, inv, end_day, shift_day)
    n_inv = inv["ci"].shape[0]
    invoice_ids = _ids("INV", n_inv, 7)

    reminders = _reminders(
        streams["reminders"], c, inv, end_day=end_day, invoice_ids=invoice_ids, cust_ids=cust_ids
    )
    payments = _payments(inv, invoice_ids, cust_ids)
    invoices = _invoice_table(c, inv, invoice_ids, cust_ids)
    del inv
    tables = {
        "customers": _customer_table(c, cust_ids),
        "invoices": invoices,
        "payments": payments,
        "reminders": reminders,
        "truth": pd.DataFrame(
            {"customer_id": _str(cust_ids), "archetype": _labels(ARCHETYPES, c["arch"])}
        ),
    }
    logger.info(
        "generated %d customers, %d invoices, %d payments, %d reminders (%s to %s, seed %d)",
        n_customers,
        n_inv,
        len(payments),
        len(reminders),
        start_ts.strftime("%Y-%m-%d"),
        end_ts.strftime("%Y-%m-%d"),
        seed,
    )
    return tables


def _invoice_table(
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    invoice_ids: pa.Array,
    cust_ids: pa.Array,
) -> pd.DataFrame:
    """Assemble the invoices table."""
    ci, paid, amount = inv["ci"], inv["paid"], inv["amount"]
    # Polish customers invoice in PLN half of the time, in EUR otherwise.
    currencies = [DEFAULT_CURRENCY, "GBP", "PLN"]
    cust_cur = np.array([currencies.index(row[2]) for row in _COUNTRIES], dtype=np.int8)
    cust_cur = cust_cur[c["country"]]
    cust_cur[(cust_cur == currencies.index("PLN")) & ~c["local_currency"]] = 0
    paid_amount = np.where(paid, amount, np.where(inv["partial"], inv["part_amount"], 0.0))
    return pd.DataFrame(
        {
            "invoice_id": _str(invoice_ids),
            "customer_id": _str(cust_ids.take(pa.array(ci))),
            "document_type": _labels(DOCUMENT_TYPES, inv["is_credit"].astype(np.int8)),
            "invoice_date": _dates(inv["inv_day"]),
            "due_date": _dates(inv["due"]),
            "amount": amount,
            "currency": _labels(currencies, cust_cur[ci]),
            "paid_date": _dates(inv["pay_day"], paid),
            "paid_amount": paid_amount,
            "disputed": inv["dispute"],
            "dispute_date": _dates(inv["dispute_day"], inv["dispute"]),
            "written_off_date": _dates(inv["wo_day"], inv["written_off"]),
        }
    )


def _payments(
    inv: dict[str, np.ndarray], invoice_ids: pa.Array, cust_ids: pa.Array
) -> pd.DataFrame:
    """Instalments of the invoices paid in parts.

    For each such invoice: the partial payment and, if it came before the data end, the
    final settlement of the rest.
    """
    p_idx = np.flatnonzero(inv["partial"])
    f_idx = p_idx[inv["paid"][p_idx]]
    rest = np.round(inv["amount"][f_idx] - inv["part_amount"][f_idx], 2)
    idx = np.concatenate([p_idx, f_idx])
    day = np.concatenate([inv["part_day"][p_idx], inv["pay_day"][f_idx]])
    amount = np.concatenate([inv["part_amount"][p_idx], rest])
    order = np.lexsort((idx, day))
    idx, day, amount = idx[order], day[order], amount[order]
    return pd.DataFrame(
        {
            "payment_id": _str(_ids("PAY", idx.shape[0], 7)),
            "invoice_id": _str(invoice_ids.take(pa.array(idx))),
            "customer_id": _str(cust_ids.take(pa.array(inv["ci"][idx]))),
            "payment_date": _dates(day),
            "amount": amount,
        }
    )


def _reminders(
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    inv: dict[str, np.ndarray],
    *,
    end_day: int,
    invoice_ids: pa.Array,
    cust_ids: pa.Array,
) -> pd.DataFrame:
    """Dunning reminders: sent only while the invoice is unpaid and before the data end.

    Dunning pauses once a dispute is raised and stops at a write-off.
    """
    ci, due, pay_day = inv["ci"], inv["due"], inv["pay_day"]
    n = ci.shape[0]
    stop = np.where(inv["never"], inv["wo_day"], pay_day)
    stop = np.where(inv["dispute"], np.minimum(stop, inv["dispute_day"]), stop)
    stop = np.minimum(stop, end_day)
    candidate = ~inv["is_credit"]
    predue = candidate & c["predue"][ci]
    idx_parts, day_parts, chan_parts, u_parts = [], [], [], []
    for offset, channel in _REMINDER_STEPS:  # eight steps, each vectorised over invoices
        u = rng.random(n, dtype=np.float32)  # for every invoice: streams independent of masks
        day = due + np.int32(offset)
        ok = (day < stop) & (day >= inv["inv_day"]) & (predue if offset < 0 else candidate)
        idx = np.flatnonzero(ok)
        idx_parts.append(idx)
        day_parts.append(day[idx])
        chan_parts.append(np.full(idx.shape[0], CHANNELS.index(channel), dtype=np.int8))
        u_parts.append(u[idx])
        del u, day, ok
    del stop, candidate, predue
    idx = np.concatenate(idx_parts)
    day = np.concatenate(day_parts)
    chan = np.concatenate(chan_parts)
    u = np.concatenate(u_parts)
    del idx_parts, day_parts, chan_parts, u_parts
    order = np.lexsort((idx, day))
    idx, day, chan, u = idx[order], day[order], chan[order], u[order]
    del order

    # Outcome: a promise to pay mostly precedes a payment within two weeks; some promises
    # are broken. Calls get an answer more often than written reminders.
    soon = (pay_day[idx] - day) <= 14
    is_call = chan == CHANNELS.index("call")
    p_promise = np.where(soon, np.where(is_call, 0.7, 0.15), np.where(is_call, 0.2, 0.03))
    p_silent = np.where(soon, np.where(is_call, 0.2, 0.05), np.where(is_call, 0.7, 0.3))
    outcome = np.where(u < p_promise, 1, np.where(u < p_promise + p_silent, 2, 0)).astype(np.int8)
    del soon, is_call, p_promise, p_silent, u
    return pd.DataFrame(
        {
            "invoice_id": _str(invoice_ids.take(pa.array(idx))),
            "customer_id": _str(cust_ids.take(pa.array(ci[idx]))),
            "sent_date": _dates(day),
            "channel": _labels(CHANNELS, chan),
            "outcome": _labels(OUTCOMES, outcome),
        }
    )


def write_dataset(
    tables: dict[str, pd.DataFrame], out_dir: str | Path, fmt: str = "csv"
) -> dict[str, Path]:
    """Write generated tables to ``out_dir`` as ``<table>.csv`` or ``<table>.parquet``.

    CSV dates are ISO ``yyyy-mm-dd`` and missing values are empty; Parquet dates are
    ``date32``. Output is byte-identical for identical tables.

    Args:
        tables: Tables as returned by :func:`generate_dataset` (any subset).
        out_dir: Folder to write into; created if missing.
        fmt: ``"csv"`` or ``"parquet"``.

    Returns:
        The written path per table name.

    Raises:
        ValueError: If ``fmt`` is not ``csv`` or ``parquet``.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, df in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            df.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        else:
            table = pa.Table.from_pandas(df, preserve_index=False)
            for col in DATE_COLUMNS.get(name, ()):
                if col in table.column_names:
                    i = table.column_names.index(col)
                    table = table.set_column(i, col, pc.cast(table[col], pa.date32()))
            import pyarrow.parquet as pq

            pq.write_table(table, path)
        paths[name] = path
        logger.info("wrote %s (%d rows)", path, len(df))
    return paths
