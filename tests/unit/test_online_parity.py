"""Online features (in memory, for the API) equal the batch DuckDB features, to 1e-9.

Sample data at three cutoffs, a non-default label config and windows, generated histories
with every edge case of the as-of rules, the API's pydantic models passed as they are.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payer_model.api.models import CustomerIn
from payer_model.config import LabelConfig
from payer_model.data.contract import load_dataset
from payer_model.features import FEATURE_COLUMNS, NUMERIC_FEATURES, build_features
from payer_model.features.online import (
    CustomerRecord,
    InvoiceRecord,
    OnlineFeatures,
    compute_online,
    customers_from_tables,
)

TOL = {"rtol": 1e-9, "atol": 1e-9}
CUSTOM_LABELS = LabelConfig(
    horizon_days=60,
    grace_days=15,
    good_max_mean_days_late=2.0,
    good_max_days_late=20.0,
    bad_min_mean_days_late=20.0,
    bad_unpaid_share=0.1,
    bad_unpaid_days_past_due=45.0,
)


def assert_parity(batch: pd.DataFrame, online: OnlineFeatures) -> None:
    b = batch.sort_values("customer_id").reset_index(drop=True)
    o = online.to_frame().sort_values("customer_id").reset_index(drop=True)
    assert o["customer_id"].tolist() == b["customer_id"].tolist()
    if len(b):
        pd.testing.assert_frame_equal(o, b, check_exact=False, **TOL)


# ------------------------------------------------------------------------------ sample data


@pytest.fixture(scope="module")
def sample():
    ds = load_dataset("data/sample")
    start = pd.Timestamp(ds.invoices["invoice_date"].min())
    cutoffs = [(start + pd.DateOffset(months=m)).date() for m in (6, 12, 20)]
    records = customers_from_tables(ds.invoices, ds.customers, ds.payments, ds.reminders)
    return ds, records, cutoffs


@pytest.mark.parametrize(
    ("labels", "windows"),
    [(None, {}), (CUSTOM_LABELS, {"window_days": 180, "trend_days": 60})],
    ids=["default", "custom-labels-and-windows"],
)
def test_sample_parity(sample, labels, windows):
    ds, records, cutoffs = sample
    batch = build_features(
        ds.invoices,
        cutoffs,
        customers=ds.customers,
        payments=ds.payments,
        reminders=ds.reminders,
        labels=labels,
        **windows,
    )
    for t in cutoffs:
        online = compute_online(records, t, labels=labels, **windows)
        assert len(online) > 1000
        assert_parity(batch[batch["as_of"] == pd.Timestamp(t)], online)


def test_label_config_reaches_prev_label(sample):
    _, records, cutoffs = sample
    default = compute_online(records, cutoffs[-1])
    custom = compute_online(records, cutoffs[-1], labels=CUSTOM_LABELS)
    assert default.categorical["prev_label"] != custom.categorical["prev_label"]


def test_pydantic_models_pass_as_they_are(sample):
    _, records, cutoffs = sample
    some = [c for c in records if c.invoices][:25]
    models = [
        CustomerIn.model_validate(
            {
                "customer_id": c.customer_id,
                "customer_type": c.customer_type,
                "industry": c.industry,
                "country": c.country,
                "payment_terms_days": c.payment_terms_days,
                "credit_limit": c.credit_limit,
                "created_date": c.created_date,
                "invoices": [vars_of(x) for x in c.invoices],
                "payments": [vars_of(x) for x in c.payments],
                "reminders": [{**vars_of(x), "channel": "email"} for x in c.reminders],
            }
        )
        for c in some
    ]
    a, b = compute_online(models, cutoffs[1]), compute_online(some, cutoffs[1])
    assert a.customer_ids == b.customer_ids
    np.testing.assert_array_equal(a.numeric, b.numeric)
    assert a.categorical == b.categorical


def vars_of(record) -> dict:
    return {f: getattr(record, f) for f in record.__slots__}


def test_block_records_and_empty_input(sample):
    """The JSON-ready rows the API audits: every feature, None for missing, ISO dates."""
    _, records, cutoffs = sample
    online = compute_online(records[:50], cutoffs[0])
    block = online.block()
    recs = block.records()
    assert [list(r) for r in recs[:1]] == [list(FEATURE_COLUMNS)]
    assert recs[0]["as_of"] == cutoffs[0].isoformat()
    frame = online.to_frame()
    got = pd.DataFrame(recs)[list(NUMERIC_FEATURES)].to_numpy(dtype=float)  # None -> NaN
    np.testing.assert_array_equal(got, frame[list(NUMERIC_FEATURES)].to_numpy())
    assert any(v is None for r in recs for v in r.values()), "the sample has missing values"
    assert block.records(skip=("customer_id", "as_of"))[0].keys() == set(FEATURE_COLUMNS[2:])
    pd.testing.assert_frame_equal(
        block.take([3, 1]).to_frame(), frame.iloc[[3, 1]].reset_index(drop=True)
    )
    empty = compute_online([], cutoffs[0])
    assert len(empty) == 0 and empty.numeric.shape == (0, len(NUMERIC_FEATURES))
    assert list(empty.to_frame().columns) == list(FEATURE_COLUMNS)


# ------------------------------------------------------------------------------ null document type

T = date(2024, 4, 1)


def _null_doc_invoices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["a", "b"],
            "customer_id": ["C1", "C1"],
            "invoice_date": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "due_date": pd.to_datetime(["2024-01-31", "2024-03-02"]),
            "paid_date": pd.to_datetime(["2024-02-10", None]),
            "amount": [100.0, 200.0],
            "document_type": pd.Series(["invoice", None], dtype=object),
        }
    )


def test_null_document_type_is_an_invoice():
    inv = _null_doc_invoices()
    online = compute_online(customers_from_tables(inv), T)
    assert online.numeric[0, NUMERIC_FEATURES.index("inv_n")] == 2
    assert_parity(build_features(inv.fillna({"document_type": "invoice"}), T), online)


def test_batch_null_document_type():
    inv = _null_doc_invoices()
    assert_parity(build_features(inv, T), compute_online(customers_from_tables(inv), T))


# ------------------------------------------------------------------------------ generated


def _near(base: int, missing: bool = True) -> st.SearchStrategy[int | None]:
    """A day offset from T: missing, on T, the day before, tied, or around ``base``."""
    known = st.sampled_from([0, -1, -30, -31]) | st.integers(base - 5, base + 150)
    return st.none() | known if missing else known


@st.composite
def customer_history(draw, cid: str):
    invoices, payments, reminders = [], [], []
    for j in range(draw(st.integers(0, 5))):
        iid = f"{draw(st.sampled_from(['a', 'B', '10', '9']))}{cid}-{j}"
        inv = draw(st.one_of(st.sampled_from([0, -1]), st.integers(-420, 20)))
        due = inv + draw(st.integers(0, 60))
        amount = draw(st.one_of(st.just(0.0), st.integers(1, 500_000).map(lambda c: c / 100)))
        kind = draw(st.sampled_from(["invoice", "invoice", "invoice", "credit_note", "negative"]))
        disputed = draw(st.sampled_from([True, False, None]))
        invoices.append(
            {
                "invoice_id": iid,
                "customer_id": cid,
                "invoice_date": inv,
                "due_date": due,
                "amount": -amount if kind != "invoice" else amount,
                "document_type": "credit_note" if kind == "credit_note" else "invoice",
                "paid_date": draw(_near(inv)),
                "disputed": disputed,
                "dispute_date": draw(_near(inv)) if disputed is not False else None,
                "written_off_date": draw(st.one_of(st.none(), st.none(), _near(due))),
            }
        )
        for _ in range(draw(st.integers(0, 2))):
            share = draw(st.sampled_from([0.25, 0.5, 1.0, 1.5]))
            payments.append((iid, draw(_near(inv, missing=False)), round(amount * share, 2)))
        for _ in range(draw(st.integers(0, 3))):
            reminders.append(
                (iid, draw(st.sampled_from([0, -7, -8]) | st.integers(due, due + 90)))
            )
    if payments and draw(st.booleans()):
        payments.append(("unknown-invoice", -3, 10.0))
    customer = {
        "customer_id": cid,
        "customer_type": draw(st.sampled_from(["company", "Sole_Trader", "individual", None])),
        "industry": draw(st.sampled_from(["retail", "", None])),
        "country": draw(st.sampled_from(["DE", None])),
        "payment_terms_days": draw(st.sampled_from([30.0, 0.0, None])),
        "credit_limit": draw(st.sampled_from([5000.0, 0.0, None])),
        "created_date": draw(st.sampled_from([-1000, -10, 0, None])),
    }
    in_table = draw(st.booleans())
    return invoices, payments, reminders, customer if in_table else None


def _dates(df: pd.DataFrame, cols) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_datetime([None if pd.isna(d) else T + timedelta(days=int(d)) for d in df[c]])
    return df


@st.composite
def histories(draw):
    n = draw(st.integers(1, 3))
    parts = [draw(customer_history(f"C{i}")) for i in range(n)]
    invoices = [x for p in parts for x in p[0]]
    if not invoices:  # batch needs at least one invoice row
        invoices = [{"invoice_id": "x", "customer_id": "C0", "invoice_date": -5, "due_date": 25}]
        invoices[0] |= {"amount": 1.0, "document_type": "invoice", "paid_date": None}
        invoices[0] |= {"disputed": None, "dispute_date": None, "written_off_date": None}
    inv = _dates(pd.DataFrame(invoices), ["invoice_date", "due_date", "paid_date"])
    inv = _dates(inv, ["dispute_date", "written_off_date"]).astype({"disputed": object})
    pay = pd.DataFrame(
        [x for p in parts for x in p[1]], columns=["invoice_id", "payment_date", "amount"]
    )
    rem = pd.DataFrame([x for p in parts for x in p[2]], columns=["invoice_id", "sent_date"])
    cust = pd.DataFrame([p[3] for p in parts if p[3] is not None], columns=list(_CUSTOMER_COLUMNS))
    return (
        inv,
        _dates(cust, ["created_date"]),
        _dates(pay, ["payment_date"]),
        _dates(rem, ["sent_date"]),
    )


_CUSTOMER_COLUMNS = (
    "customer_id",
    "customer_type",
    "industry",
    "country",
    "payment_terms_days",
    "credit_limit",
    "created_date",
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tables=histories(),
    windows=st.sampled_from([(365, 90), (120, 30), (365, 200)]),
    labels=st.sampled_from([None, CUSTOM_LABELS]),
)
def test_generated_histories(tables, windows, labels):
    inv, cust, pay, rem = tables
    kw = {"window_days": windows[0], "trend_days": windows[1], "labels": labels}
    batch = build_features(
        inv,
        T,
        customers=cust if len(cust) else None,
        payments=pay if len(pay) else None,
        reminders=rem if len(rem) else None,
        **kw,
    )
    online = compute_online(customers_from_tables(inv, cust, pay, rem), T, **kw)
    assert_parity(batch, online)


def test_record_defaults_are_batch_defaults():
    rec = CustomerRecord(
        "C1",
        invoices=(InvoiceRecord("i1", date(2024, 1, 1), date(2024, 1, 31), 100.0),),
    )
    online = compute_online([rec], T)
    assert [online.categorical[c][0] for c in ("customer_type", "industry", "country")] == [
        "company",
        "unknown",
        "unknown",
    ]
    inv = pd.DataFrame(
        {
            "invoice_id": ["i1"],
            "customer_id": ["C1"],
            "invoice_date": pd.to_datetime(["2024-01-01"]),
            "due_date": pd.to_datetime(["2024-01-31"]),
            "amount": [100.0],
        }
    )
    assert_parity(build_features(inv, T), online)
