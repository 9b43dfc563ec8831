"""Behavioural model tests: monotone in lateness, invariant to ids, missing classes."""

import numpy as np
import pandas as pd
import pytest

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.data.schema import RATINGS
from payer_model.features import WORSE_WHEN_HIGHER
from payer_model.modelling.fit import fit_and_evaluate
from payer_model.modelling.model import load_bundle

pytestmark = pytest.mark.slow
ORDER = {r: i for i, r in enumerate(RATINGS)}


@pytest.fixture(scope="module")
def fitted():
    return fit_and_evaluate(generate_dataset(500, 20, seed=3), TrainConfig())


def test_worse_lateness_never_improves_the_rating(fitted):
    rows = fitted.test.copy()
    base = fitted.model.predict_rating(rows)
    p_bad = fitted.model.predict_proba(rows)[:, 2]
    worse = rows.copy()
    for col in (
        "wmean_days_late",
        "wmean_days_late_12m",
        "median_days_late_12m",
        "p90_days_late_12m",
        "last5_mean_days_late",
        "mean_days_late_90d",
        "max_days_late",
        "oldest_overdue_days",
    ):
        worse[col] = worse[col].fillna(0) + 25
    worse["overdue_amt"] = worse["overdue_amt"] * 1.5 + 1000
    worse["aging_90p"] = worse["aging_90p"] + 1000
    after = fitted.model.predict_rating(worse)
    assert all(ORDER[a] >= ORDER[b] for a, b in zip(after, base, strict=True))
    assert (fitted.model.predict_proba(worse)[:, 2] >= p_bad - 1e-12).all()
    assert (after != base).any()  # the perturbation is large enough to matter


def test_monotone_constraints_cover_lateness_features(fitted):
    model = getattr(fitted.model, "base", fitted.model)
    cols = model.encoder_.columns
    if model.kind == "linear":
        coef = dict(zip(cols, model.coef_, strict=True))
        assert all(coef[c] >= 0 for c in WORSE_WHEN_HIGHER)
        return
    spec = model._monotone(cols)
    flags = dict(zip(cols, spec.strip("()").split(","), strict=True))
    assert all(flags[c] == "1" for c in WORSE_WHEN_HIGHER)


def test_ids_do_not_matter(fitted):
    rows = fitted.test.head(200).copy()
    renamed = rows.copy()
    renamed["customer_id"] = [f"X{i:08d}" for i in range(len(rows))]
    np.testing.assert_array_equal(
        fitted.model.predict_proba(rows), fitted.model.predict_proba(renamed)
    )


def test_hand_written_payers(fitted):
    # Start from real rows (one realised good, one realised bad) and make them unambiguous.
    good_row = fitted.test[fitted.test["label"] == "good"].iloc[[0]].copy()
    bad_row = fitted.test[fitted.test["label"] == "bad"].iloc[[0]].copy()
    proto = good_row
    prompt = proto.assign(
        wmean_days_late=-2.0,
        wmean_days_late_12m=-2.0,
        median_days_late_12m=-2.0,
        p90_days_late_12m=1.0,
        last5_mean_days_late=-1.0,
        mean_days_late_90d=-1.0,
        max_days_late=3.0,
        max_days_late_12m=3.0,
        share_late_15=0.0,
        share_late_30=0.0,
        overdue_amt=0.0,
        overdue_share=0.0,
        aging_61_90=0.0,
        aging_90p=0.0,
        oldest_overdue_days=0.0,
        prev_label_code=0.0,
        prev_mean_days_late=-2.0,
        prev_unpaid_share=0.0,
        prev_label="good",
        share_late_0=0.0,
        mean_days_late_prev90d=-1.0,
        aging_1_30=0.0,
        aging_31_60=0.0,
        writeoffs_n=0.0,
        paid_n=40.0,
        paid_n_12m=20.0,
        tenure_days=700.0,
        disputes_n=0.0,
        dispute_rate=0.0,
        trend_days_late=0.0,
        overdue_n=0.0,
        open_disputed_n=0.0,
    )
    chronic = bad_row.assign(
        wmean_days_late=60.0,
        wmean_days_late_12m=65.0,
        median_days_late_12m=60.0,
        p90_days_late_12m=95.0,
        last5_mean_days_late=70.0,
        mean_days_late_90d=70.0,
        max_days_late=120.0,
        max_days_late_12m=120.0,
        share_late_15=1.0,
        share_late_30=0.9,
        overdue_share=1.0,
        aging_90p=20000.0,
        oldest_overdue_days=130.0,
        prev_label_code=2.0,
        prev_mean_days_late=70.0,
        prev_unpaid_share=0.5,
        prev_label="bad",
    )
    assert fitted.model.predict_rating(prompt)[0] == "good"
    assert fitted.model.predict_rating(chronic)[0] == "bad"


def test_save_load_roundtrip_is_exact(fitted, tmp_path):
    fitted.model.save(tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    np.testing.assert_array_equal(
        loaded.predict_proba(fitted.test), fitted.model.predict_proba(fitted.test)
    )


def test_corrupt_bundle_is_refused(fitted, tmp_path):
    path = fitted.model.save(tmp_path / "b")
    # boosters where the chosen candidate has them, else the coefficients
    for f in sorted(path.rglob("*.ubj")) or [path / "spec.json"]:
        f.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="unreadable"):
        load_bundle(tmp_path / "b")


def test_absent_class_in_test_window_reports_nulls():
    cfg = TrainConfig()
    # Make "bad" impossible: thresholds no portfolio reaches, and no write-offs.
    cfg.labels.bad_min_mean_days_late = 10_000
    cfg.labels.bad_unpaid_share = 2.0
    tables = generate_dataset(300, 20, seed=5)
    tables["invoices"]["written_off_date"] = pd.NaT
    fit = fit_and_evaluate(tables, cfg)
    m = fit.metrics["model"]
    assert m["recall"]["bad"] is None and m["auc_bad"] is None
    assert m["macro_f1"] is not None and m["log_loss"] is not None
