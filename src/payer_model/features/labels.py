"""Labels at a cutoff T and the out-of-time plan of cutoffs (DESIGN §3).

Label at T (horizon H, grace G, observation end E = T + H + G): over the invoices open at T
or falling due in [T, T + H), days late is ``paid_date - due_date`` when paid before E,
else the invoice is unpaid at E and counts ``E - due_date`` days late (a lower bound).

* good: amount-weighted mean days late <= 5 and no invoice more than 30 days late;
* bad: mean > 30, or >= 20 % of the amount unpaid >= 60 days past due at E, or a write-off;
* average: otherwise; no invoice in the window: no label.

All thresholds come from :class:`payer_model.config.LabelConfig`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from payer_model.config import LabelConfig, SplitConfig
from payer_model.data.schema import RATINGS
from payer_model.features.sqldialect import render

log = logging.getLogger(__name__)

LABEL_INDEX: dict[str, int] = {r: i for i, r in enumerate(RATINGS)}

_SQL = """
WITH cut AS (SELECT DISTINCT CAST(as_of AS DATE) AS t FROM {cutoffs}),
inv AS (
    SELECT CAST(customer_id AS STRING) AS customer_id,
        CAST(invoice_date AS DATE) AS invoice_date,
        CAST(due_date AS DATE) AS due_date,
        CAST(paid_date AS DATE) AS paid_date,
        CAST(written_off_date AS DATE) AS wo_date,
        CAST(amount AS DOUBLE) AS amount
    FROM {invoices}
    WHERE NOT (coalesce(document_type, 'invoice') = 'credit_note' OR amount < 0)
),
win AS (
    SELECT i.customer_id, c.t, i.amount, i.due_date,
        c.t + {obs} AS e,
        (i.paid_date IS NOT NULL AND i.paid_date < c.t + {obs}) AS paid_by_e,
        (i.wo_date IS NOT NULL AND i.wo_date < c.t + {obs}) AS wo_by_e,
        CASE WHEN i.paid_date IS NOT NULL AND i.paid_date < c.t + {obs}
             THEN DDIFF(i.paid_date, i.due_date)
             ELSE DDIFF(c.t + {obs}, i.due_date) END AS dl
    FROM inv i JOIN cut c
      ON (i.invoice_date < c.t
          AND coalesce(least(i.paid_date, i.wo_date), DATE '9999-12-31') >= c.t)
      OR (i.due_date >= c.t AND i.due_date < c.t + {horizon})
),
agg AS (
    SELECT customer_id, t,
        count(*) AS label_invoices,
        sum(amount) AS label_amount,
        sum(amount * dl) / nullif(sum(amount), 0) AS label_mean_days_late,
        max(dl) AS label_max_days_late,
        coalesce(sum(amount) FILTER (WHERE NOT paid_by_e AND dl >= {unpaid_dpd}), 0)
            / nullif(sum(amount), 0) AS label_unpaid_share,
        bool_or(wo_by_e AND NOT paid_by_e) AS label_writeoff,
        count(*) FILTER (WHERE dl > 0) AS label_late_n,
        coalesce(sum(amount) FILTER (WHERE NOT paid_by_e), 0) AS label_unpaid_amount
    FROM win GROUP BY ALL
)
SELECT customer_id, TS(t) AS as_of, label_invoices, label_amount,
    label_mean_days_late, CAST(label_max_days_late AS DOUBLE) AS label_max_days_late,
    label_unpaid_share, label_writeoff, CAST(label_late_n AS DOUBLE) AS label_late_n,
    label_unpaid_amount,
    CASE
        WHEN label_mean_days_late > {bad_mean} OR label_unpaid_share >= {bad_share}
             OR label_writeoff THEN 'bad'
        WHEN label_mean_days_late <= {good_mean} AND label_max_days_late <= {good_max}
             THEN 'good'
        ELSE 'average' END AS label
FROM agg
ORDER BY as_of, customer_id
"""


def label_sql(
    cfg: LabelConfig,
    dialect: str = "duckdb",
    *,
    invoices: str = "invoices_in",
    cutoffs: str = "cutoffs_in",
) -> str:
    """The label query for one SQL engine.

    ``invoices`` and ``cutoffs`` name the relations it reads (views by default; a
    parenthesised subquery works too).
    """
    return render(
        _SQL.format(
            invoices=invoices,
            cutoffs=cutoffs,
            obs=cfg.observation_days,
            horizon=cfg.horizon_days,
            unpaid_dpd=cfg.bad_unpaid_days_past_due,
            bad_mean=cfg.bad_min_mean_days_late,
            bad_share=cfg.bad_unpaid_share,
            good_mean=cfg.good_max_mean_days_late,
            good_max=cfg.good_max_days_late,
        ),
        dialect,
    )


def label_snapshots(
    invoices: pd.DataFrame, cutoffs: date | str | Sequence, cfg: LabelConfig
) -> pd.DataFrame:
    """Realised label per customer and cutoff.

    Args:
        invoices: invoices in the data-contract shape.
        cutoffs: one or many cutoffs T.
        cfg: label definition.

    Returns:
        customer_id, as_of, label (good/average/bad) and the numbers behind it; customers
        with no invoice in the window have no row.
    """
    if isinstance(cutoffs, str | date | pd.Timestamp):
        cutoffs = [cutoffs]
    cut = pd.DataFrame({"as_of": pd.to_datetime(list(cutoffs)).normalize()})
    inv = invoices.copy()
    for col, val in {
        "document_type": "invoice",
        "paid_date": pd.NaT,
        "written_off_date": pd.NaT,
    }.items():
        if col not in inv:
            inv[col] = val
    sql = label_sql(cfg, "duckdb")
    con = duckdb.connect()
    try:
        con.register(
            "invoices_in",
            inv[
                [
                    "customer_id",
                    "invoice_date",
                    "due_date",
                    "paid_date",
                    "written_off_date",
                    "amount",
                    "document_type",
                ]
            ],
        )
        con.register("cutoffs_in", cut)
        out = con.execute(sql).df()
    finally:
        con.close()
    out["customer_id"] = out["customer_id"].astype(str)
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")
    out["label"] = out["label"].astype(str)
    out["label_writeoff"] = out["label_writeoff"].astype(bool)
    return out


def previous_period(
    invoices: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], cfg: LabelConfig
) -> pd.DataFrame:
    """Last period's realised label for each cutoff T: the label at ``T - H - G``.

    Its observation ends at T, so only invoices and payments dated before T enter it; later
    events are blanked explicitly all the same. This is the persistence baseline and also a
    feature of the model.

    Returns:
        customer_id, as_of (= T), prev_label, prev_label_code, prev_mean_days_late,
        prev_unpaid_share.
    """
    lag = pd.Timedelta(days=cfg.observation_days)
    cut = pd.to_datetime(list(cutoffs)).normalize()
    known = invoices.loc[pd.to_datetime(invoices["invoice_date"]) < cut.max()].copy()
    for col in ("paid_date", "written_off_date"):
        if col in known:
            dates = pd.to_datetime(known[col])
            known[col] = dates.where(dates < cut.max())
    prev = label_snapshots(known, list(cut - lag), cfg)
    return pd.DataFrame(
        {
            "customer_id": prev["customer_id"],
            "as_of": (prev["as_of"] + lag).astype("datetime64[us]"),
            "prev_label": prev["label"],
            "prev_label_code": prev["label"].map(LABEL_INDEX).astype(float),
            "prev_mean_days_late": prev["label_mean_days_late"].astype(float),
            "prev_unpaid_share": prev["label_unpaid_share"].astype(float),
        }
    )


def data_range(invoices: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First invoice date and the data end (the day after the last dated event)."""
    start = pd.Timestamp(invoices["invoice_date"].min()).normalize()
    last = max(
        pd.Timestamp(invoices[c].max())
        for c in ("invoice_date", "paid_date", "dispute_date", "written_off_date")
        if c in invoices and invoices[c].notna().any()
    )
    return start, last.normalize() + pd.Timedelta(days=1)


@dataclass
class CutoffPlan:
    """Monthly cutoffs for train, validation and test, all by time."""

    train: list[pd.Timestamp]
    val: list[pd.Timestamp]
    test: list[pd.Timestamp]
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    embargo: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[pd.Timestamp]:
        """Every cutoff of the plan, in order."""
        return [*self.train, *self.val, *self.test]

    def to_dict(self) -> dict:
        """JSON-friendly view (ISO dates)."""

        def iso(ts: list[pd.Timestamp]) -> list[str]:
            return [t.date().isoformat() for t in ts]

        return {
            "train": iso(self.train),
            "val": iso(self.val),
            "test": iso(self.test),
            "data_start": self.data_start.date().isoformat(),
            "data_end": self.data_end.date().isoformat(),
            "embargo": self.embargo,
        }


class InsufficientHistoryError(ValueError):
    """Too little history for an out-of-time split; the message says how much is needed."""


def _months(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    return list(pd.date_range(start, end, freq="MS"))


def plan_cutoffs(
    data_start: pd.Timestamp, data_end: pd.Timestamp, labels: LabelConfig, split: SplitConfig
) -> CutoffPlan:
    """Derive monthly cutoffs and the time split from the data's own range.

    A snapshot at T is usable only when its observation end T + H + G is on or before the
    data end (test), the test start (validation) or the validation start (training, with
    embargo). When the data is short, fewer test/validation cutoffs and no embargo between
    training and validation are tried before giving up.

    Raises:
        InsufficientHistoryError: not even the smallest plan fits.
    """
    obs = pd.Timedelta(days=labels.observation_days)
    data_end = pd.Timestamp(split.data_end) if split.data_end else data_end
    if split.first_cutoff:
        first = pd.Timestamp(split.first_cutoff)
    else:
        first = data_start + pd.DateOffset(months=split.min_history_months)
        if first != first.to_period("M").to_timestamp():
            first = (first.to_period("M") + 1).to_timestamp()
    usable = [t for t in _months(first, data_end) if t + obs <= data_end]
    attempts = [
        (split.test_cutoffs, split.val_cutoffs, True),
        (max(1, split.test_cutoffs - 1), max(1, split.val_cutoffs - 1), True),
        (1, 1, True),
        (1, 1, False),
    ]
    for n_test, n_val, embargo in attempts:
        if split.test_start:
            test = [t for t in usable if t >= pd.Timestamp(split.test_start)][:n_test]
        else:
            test = usable[-n_test:] if len(usable) >= n_test else []
        if not test:
            continue
        cands = [t for t in usable if t + obs <= test[0]]
        if len(cands) < n_val + split.min_train_cutoffs:
            continue
        val = cands[-n_val:]
        train = [t for t in cands[:-n_val] if (t + obs <= val[0]) or not embargo]
        if len(train) < split.min_train_cutoffs:
            continue
        plan = CutoffPlan(train, val, test, data_start, data_end, embargo)
        if (n_test, n_val, embargo) != attempts[0]:
            plan.notes.append(
                f"short history: using {n_test} test and {n_val} validation cutoffs"
                + ("" if embargo else " without an embargo between training and validation")
            )
        return plan
    span = (data_end - data_start).days / 30.44
    obs_months = labels.observation_days / 30.44
    need = split.min_history_months + split.min_train_cutoffs + 1 + 2 * obs_months
    raise InsufficientHistoryError(
        f"not enough history for an out-of-time split: the data spans {span:.1f} months "
        f"({data_start.date()} to {data_end.date()}); training needs at least about "
        f"{np.ceil(need):.0f} months ({split.min_history_months} months of history before the "
        f"first cutoff, {split.min_train_cutoffs} training cutoffs, and "
        f"{labels.observation_days} days of observation after both the validation and the "
        "test cutoffs)"
    )


LABEL_PRESETS: dict[str, LabelConfig] = {
    "default": LabelConfig(),
    # a stable portfolio where hardly anyone is 30 days late: without tighter thresholds
    # "bad" is empty and "good" is almost everyone
    "tight": LabelConfig(
        good_max_mean_days_late=2.0, good_max_days_late=10.0, bad_min_mean_days_late=15.0
    ),
}
"""Named label thresholds; ``tight`` (good: mean <= 2 days late and none > 10; bad: mean >
15) suits small, stable portfolios (``training/configs/train-stable.yaml``)."""


def labels_report(
    invoices: pd.DataFrame,
    split: SplitConfig | None = None,
    presets: dict[str, LabelConfig] | None = None,
) -> dict:
    """Class mix per monthly cutoff under each label preset, and empty test-window classes.

    Returns:
        ``presets``: per preset ``months`` (one row per cutoff: ``as_of``, ``window``
        train/val/test, the count of each class) and ``empty_in_test`` (classes with no
        snapshot in the test window); ``warnings``: one line per empty class.
    """
    split = split or SplitConfig()
    presets = presets or LABEL_PRESETS
    start, end = data_range(invoices)
    out: dict = {"presets": {}, "warnings": []}
    for name, cfg in presets.items():
        plan = plan_cutoffs(start, end, cfg, split)
        window = {t: w for w in ("train", "val", "test") for t in getattr(plan, w)}
        lab = label_snapshots(invoices, plan.all, cfg)
        tab = pd.crosstab(lab["as_of"], lab["label"]).reindex(
            index=plan.all, columns=list(RATINGS), fill_value=0
        )
        months = [
            {"as_of": t.date().isoformat(), "window": window[t]}
            | {r: int(tab.loc[t, r]) for r in RATINGS}
            for t in plan.all
        ]
        in_test = tab.loc[plan.test].sum()
        empty = [r for r in RATINGS if in_test[r] == 0]
        out["presets"][name] = {"months": months, "empty_in_test": empty}
        out["warnings"] += [
            f"{name}: no '{r}' snapshot in the test window "
            f"({', '.join(t.date().isoformat() for t in plan.test)}); its recall and AUC "
            "cannot be measured"
            for r in empty
        ]
    return out
