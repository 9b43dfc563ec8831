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

from payer_model.data.archetypes import (
    ARCHETYPES,
    COUNTRIES,
    DEFAULT_PROFILE,
    INDUSTRIES,
    SMALL_STABLE,
    Profile,
    draw_customers,
    draw_invoices,
    settle,
)
from payer_model.data.fakenames import FIRST, LAST, WORDS_A, WORDS_B, draw_names
from payer_model.data.schema import (
    CHANNELS,
    CUSTOMER_TYPES,
    DATE_COLUMNS,
    DEFAULT_CURRENCY,
    DOCUMENT_TYPES,
)

logger = logging.getLogger(__name__)

__all__ = ["ARCHETYPES", "PRESETS", "generate_dataset", "preset_dataset", "write_dataset"]

PRESETS: dict[str, dict] = {
    "small-stable": {
        "n_customers": 100,
        "months": 24,
        "invoices_per_month": 1.2,
        "profile": SMALL_STABLE,
    },
}
"""Named generator settings: ``small-stable`` is a small real-looking ledger (100 customers
over two years, fixed 30-day terms, low and steady lateness, a few disputes) that needs the
``tight`` label preset to have three classes."""

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

_NAT = np.iinfo(np.int64).min

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


def _customer_table(c: dict[str, np.ndarray], ids: pa.Array) -> pd.DataFrame:
    """Assemble the customers table from the drawn attributes."""
    n = len(ids)
    person = c["ctype"] == CUSTOMER_TYPES.index("individual")
    suffix = np.array([row[3] for row in COUNTRIES])[c["country"]]
    company = pd.Series(WORDS_A[c["name_a"]]) + " " + WORDS_B[c["name_b"]] + " " + suffix
    first = pd.Series(FIRST[c["first"]])
    last = pd.Series(LAST[c["last"]])
    human = first + " " + last
    # Sole traders trade under their own name plus a trade word.
    trader = human + " " + WORDS_B[c["name_b"]]
    is_trader = c["ctype"] == CUSTOMER_TYPES.index("sole_trader")
    name = np.where(person, human, np.where(is_trader, trader, company))
    number = pd.Series(np.arange(1, n + 1)).astype(str)
    slug = (pd.Series(WORDS_A[c["name_a"]]) + "-" + WORDS_B[c["name_b"]]).str.lower()
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
            "industry": _labels([row[0] for row in INDUSTRIES], c["industry"]),
            "country": _labels([row[0] for row in COUNTRIES], c["country"]),
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


def generate_dataset(  # noqa: PLR0917 - the documented positional API
    n_customers: int,
    months: int,
    seed: int = 0,
    start: str = "2023-01-01",
    shift_from: str | None = None,
    invoices_per_month: float = 1.5,
    profile: Profile = DEFAULT_PROFILE,
    *,
    uplift: bool = False,
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
        profile: Portfolio-level behaviour knobs (:class:`~payer_model.data.archetypes.Profile`);
            see :data:`PRESETS`.
        uplift: run the randomised chasing experiment of :mod:`payer_model.data.chase`
            (reminders that change payment days, propensities, ``chase_log`` and
            ``chase_truth`` tables, ``effect_<channel>`` columns in ``truth``).

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
    c = draw_customers(
        streams["customers"],
        n=n_customers,
        start_day=start_day,
        end_day=end_day,
        invoices_per_month=invoices_per_month,
        profile=profile,
    )
    c.update(draw_names(streams["names"], n_customers))
    cust_ids = _ids("C", n_customers, 6)
    inv = draw_invoices(streams["invoices"], c, end_day)
    settle(streams, c, inv, end_day, shift_day)
    n_inv = inv["ci"].shape[0]
    invoice_ids = _ids("INV", n_inv, 7)
    chase = None
    if uplift:  # its own stream: the other tables' draws are unchanged
        from payer_model.data.chase import simulate_chase

        chase_rng = np.random.default_rng(np.random.SeedSequence([seed, 20]))
        chase = simulate_chase(chase_rng, ARCHETYPES, c, inv, end_day)

    reminders = _reminders(
        streams["reminders"],
        c,
        inv,
        end_day=end_day,
        invoice_ids=invoice_ids,
        cust_ids=cust_ids,
        chase=chase,
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
    if chase is not None:
        from payer_model.data.chase import chase_tables, effect_columns

        tables["truth"] = tables["truth"].assign(**effect_columns(chase["effect"]))
        tables.update(
            chase_tables(
                chase,
                np.asarray(invoice_ids.to_numpy(zero_copy_only=False), dtype=object),
                np.asarray(cust_ids.take(pa.array(chase["ci"])), dtype=object),
            )
        )
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


def preset_dataset(
    name: str, *, seed: int = 0, start: str = "2023-01-01", **overrides
) -> dict[str, pd.DataFrame]:
    """:func:`generate_dataset` with a named preset's settings (``overrides`` win).

    Raises:
        ValueError: unknown preset (the message lists the known ones).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown generator preset {name!r}; known: {', '.join(PRESETS)}")
    args = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return generate_dataset(seed=seed, start=start, **args)


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
    cust_cur = np.array([currencies.index(row[2]) for row in COUNTRIES], dtype=np.int8)
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
    chase: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Dunning reminders: sent only while the invoice is unpaid and before the data end.

    Dunning pauses once a dispute is raised and stops at a write-off. With ``chase`` (the
    randomised experiment) its sent reminders replace the steps before day 20, and carry
    ``propensity`` and ``tone``.
    """
    ci, due, pay_day = inv["ci"], inv["due"], inv["pay_day"]
    n = ci.shape[0]
    stop = np.where(inv["never"], inv["wo_day"], pay_day)
    stop = np.where(inv["dispute"], np.minimum(stop, inv["dispute_day"]), stop)
    stop = np.minimum(stop, end_day)
    candidate = ~inv["is_credit"]
    predue = candidate & c["predue"][ci]
    idx_parts, day_parts, chan_parts, u_parts = [], [], [], []
    steps = _REMINDER_STEPS if chase is None else [s for s in _REMINDER_STEPS if s[0] >= 20]
    for offset, channel in steps:  # eight steps, each vectorised over invoices
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
    extra = None
    if chase is not None:
        from payer_model.data.chase import chase_reminders

        extra = chase_reminders(rng, chase, idx_parts, day_parts, chan_parts, u_parts)
    idx = np.concatenate(idx_parts)
    day = np.concatenate(day_parts)
    chan = np.concatenate(chan_parts)
    u = np.concatenate(u_parts)
    del idx_parts, day_parts, chan_parts, u_parts
    order = np.lexsort((idx, day))
    idx, day, chan, u = idx[order], day[order], chan[order], u[order]
    extra = {k: v[order] for k, v in extra.items()} if extra is not None else {}
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
            **extra,
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
