"""The portfolio path of the policy engine decides exactly as the one-customer call.

:func:`payer_model.policy.segment.decide_all` (through
:func:`payer_model.policy.vector.decide_many`) against :func:`payer_model.policy.decide.decide`
run per customer on that customer's open invoices and reminders, on generated portfolios
and the sample, with random ratings, invoice predictions (band steps) and the write-offs,
disputes, partial payments and promises to pay of the data.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from payer_model.data.contract import load_dataset, validate_frames
from payer_model.data.generate import generate_dataset
from payer_model.data.schema import PII_COLUMNS
from payer_model.policy.decide import decide
from payer_model.policy.policies import parse_policies
from payer_model.policy.segment import decide_all, open_invoices_at
from payer_model.policy.vector import frame_records

ROOT = Path(__file__).resolve().parents[2]
BAND_STEPS = [
    {"bands": ["High"], "channel": "email", "offset_days": -5},
    {"bands": ["Medium", "High"], "channel": "sms", "offset_days": 2},
]


@pytest.fixture(scope="module")
def policies():
    raw = yaml.safe_load((ROOT / "serving" / "policies.yaml").read_text())
    for seg in raw["segments"][::2]:  # some segments with band steps, some without
        seg["policy"]["band_steps"] = BAND_STEPS
    return parse_policies(raw)


def _scored(cids, seed):
    rng = np.random.default_rng(seed)
    n = len(cids)
    scored = pd.DataFrame(
        {
            "customer_id": cids,
            "rating": rng.choice(["good", "average", "bad", "unrated"], n),
            "p_bad": rng.random(n),
            "score": rng.random(n) * 100,
            "wmean_days_late": rng.random(n) * 30,
            "trend_days_late": rng.normal(0, 5, n),
            "n_paid_invoices": rng.integers(0, 30, n).astype(float),
        }
    )
    scored.loc[rng.random(n) < 0.1, "p_bad"] = np.nan
    return scored


def _predictions(invoices, seed):
    rng = np.random.default_rng(seed)
    n = len(invoices)
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].astype(str),
            "p_late": rng.random(n),
            "band": rng.choice(np.array(["Low", "Medium", "High", None], dtype=object), n),
        }
    )


def _per_customer(tables, scored, t, policies, preds):
    """What decide_all computed before the portfolio path: decide() customer by customer."""
    open_inv = open_invoices_at(tables, t)
    if preds is not None:
        open_inv = open_inv.assign(invoice_id=open_inv["invoice_id"].astype(str)).merge(
            preds, on="invoice_id", how="left"
        )
    by_cust = {str(k): g for k, g in open_inv.groupby(open_inv["customer_id"].astype(str))}
    rem = tables["reminders"]
    rem = rem[pd.to_datetime(rem["sent_date"]) < t]
    rem = rem[rem["invoice_id"].isin(open_inv["invoice_id"])]
    owner = dict(zip(open_inv["invoice_id"], open_inv["customer_id"], strict=True))
    rem_by = {str(k): g for k, g in rem.groupby(rem["invoice_id"].map(owner).astype(str))}
    cust_by = {str(r["customer_id"]): r for r in tables["customers"].to_dict("records")}
    out = []
    for row in scored.to_dict("records"):
        cid = str(row["customer_id"])
        c = {k: v for k, v in cust_by.get(cid, {"customer_id": cid}).items()
             if k not in PII_COLUMNS}  # fmt: skip
        inv = by_cust.get(cid, tables["invoices"].iloc[:0])
        out.append(decide(c, inv, row, t, policies, rem_by.get(cid)))
    return out


def _tables(source):
    if source == "sample":
        return load_dataset(ROOT / "data" / "sample").tables, pd.Timestamp("2024-06-01")
    tables = validate_frames(generate_dataset(150, 18, seed=int(source[-1]))).tables
    last = pd.Timestamp(tables["invoices"]["invoice_date"].max())
    return tables, last - pd.Timedelta(days=20)


# the 1,500-customer sample is the broadest case and the slowest: full suite only
SAMPLE = pytest.param("sample", marks=pytest.mark.slow)


@pytest.mark.parametrize("source", ["generated-3", "generated-7", SAMPLE])
@pytest.mark.parametrize("with_predictions", [False, True])
def test_portfolio_decisions_equal_per_customer(policies, source, with_predictions):
    tables, t = _tables(source)
    cids = sorted(set(tables["invoices"]["customer_id"].astype(str)))
    scored = _scored([*cids, "C-WITHOUT-INVOICES"], seed=len(cids))
    preds = _predictions(tables["invoices"], seed=1) if with_predictions else None
    for when in (t, t - pd.Timedelta(days=150)):
        batch = decide_all(tables, scored, when, policies, invoice_predictions=preds)
        batch = [d.model_dump(mode="json") for d in batch]
        single = _per_customer(tables, scored, when, policies, preds)
        single = [d.model_dump(mode="json") for d in single]
        assert len(batch) == len(single) == len(scored)
        for b, s in zip(batch, single, strict=True):
            assert b == s, b["customer_id"]
        # the data exercise what the parity is about
        reasons = {r for d in batch for r in d["stopped"].values()}
        assert reasons & {"dispute_open", "promise_to_pay"}
        actions = [a for d in batch for a in d["next_actions"]]
        assert any(a["kind"] == "escalation" for a in actions)
        assert any(a["catch_up"] for a in actions)
        if with_predictions and when == t:
            assert any(d["expected_overdue_amt"] is not None for d in batch)


def test_band_steps_and_stops_are_exercised(policies):
    """Guards the parity test: band steps fire, and disputes/promises stop sequences."""
    tables, t = _tables("sample")
    cids = sorted(set(tables["invoices"]["customer_id"].astype(str)))
    scored = _scored(cids, seed=0)
    preds = _predictions(tables["invoices"], seed=1)
    with_bands = decide_all(tables, scored, t, policies, invoice_predictions=preds)
    without = decide_all(tables, scored, t, policies)
    n_with = sum(len(d.next_actions) for d in with_bands)
    assert n_with > sum(len(d.next_actions) for d in without)
    reasons = {r for d in with_bands for r in d.stopped.values()}
    assert "dispute_open" in reasons


def test_frame_records_equal_to_dict():
    tables, _ = _tables("sample")
    inv = tables["invoices"].head(300)
    assert frame_records(inv) == inv.to_dict("records")


def _ledger_rows(tables):
    """Contract frames as the ledger hands them out: dicts, dates as date, missing as None."""

    def cell(v):
        if isinstance(v, pd.Timestamp):
            return v.date()
        if v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            return None
        return v

    return {name: [{k: cell(v) for k, v in r.items()} for r in frame_records(frame)]
            for name, frame in tables.items() if frame is not None}  # fmt: skip


@pytest.mark.parametrize("source", ["generated-3", SAMPLE])
def test_rows_path_decides_as_the_portfolio_path(policies, source):
    """decide_rows (an event's few customers, no pandas) equals decide_all on the frames."""
    from payer_model.policy.vector import decide_rows

    tables, t = _tables(source)
    cids = sorted(set(tables["invoices"]["customer_id"].astype(str)))
    scored = _scored([*cids, "C-WITHOUT-INVOICES"], seed=len(cids))
    rows = _ledger_rows(tables)
    rating_rows = frame_records(scored)
    for when in (t, t - pd.Timedelta(days=150)):
        frame_path = decide_all(tables, scored, when, policies)
        rows_path = decide_rows(rows, rating_rows, when, policies)
        assert [d.model_dump(mode="json") for d in rows_path] == [
            d.model_dump(mode="json") for d in frame_path
        ]
