"""Portfolio reasons: pattern TreeSHAP equals XGBoost's, streamed reasons equal per-row ones.

:func:`payer_model.modelling.treeshap.pattern_contributions` computes TreeSHAP once per
decision pattern; it must give ``pred_contribs`` of the whole booster for every row, for
shallow trees (table lookup) and deep ones (sorted patterns), with missing values.
:func:`payer_model.jobs.score.score_to_parquet` streams worst-first chunks to Parquet; each
customer's reasons must be the ones :func:`reason_codes` gives that customer with exact
per-row TreeSHAP.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset, write_dataset
from payer_model.features import compute
from payer_model.features.labels import LABEL_INDEX
from payer_model.jobs import score as score_job
from payer_model.modelling.explain import reason_codes
from payer_model.modelling.model import XGBRatingModel, rating_frame
from payer_model.modelling.snapshots import build_snapshots, usable
from payer_model.modelling.treeshap import pattern_contributions

CFG = TrainConfig()


def _norm(reasons: str) -> list[dict]:
    out = json.loads(reasons)
    for r in out:
        if isinstance(r["value"], float):
            r["value"] = float(f"{r['value']:.12g}")
    return out


@pytest.mark.parametrize("depth", [3, 7])
def test_pattern_contributions_equal_pred_contribs(depth):
    rng = np.random.default_rng(depth)
    x = rng.normal(size=(3000, 12))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 3] = np.round(x[:, 3])  # ties on split values
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 3]) * x[:, 1] > 0).astype(float)
    names = [f"f{i}" for i in range(x.shape[1])]
    booster = xgb.train(
        {"max_depth": depth, "objective": "binary:logistic", "nthread": 1, "seed": 0},
        xgb.DMatrix(x, label=y, feature_names=names),
        num_boost_round=25,
    )
    exact = booster.predict(xgb.DMatrix(x, feature_names=names), pred_contribs=True)
    fast = pattern_contributions(booster, x, names, nthread=1)
    np.testing.assert_allclose(fast, exact, rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    tables = generate_dataset(300, 20, seed=4)
    folder = tmp_path_factory.mktemp("portfolio")
    write_dataset(tables, folder, fmt="parquet")
    end = pd.Timestamp(tables["invoices"]["invoice_date"].max()).to_period("M").to_timestamp()
    cuts = list(pd.date_range(end=end - pd.DateOffset(months=5), periods=6, freq="MS"))
    snap = usable(build_snapshots(folder, cuts, CFG))
    last = snap["as_of"].max()
    train, val = snap[snap["as_of"] < last], snap[snap["as_of"] == last]
    model = XGBRatingModel({"max_depth": 4}, num_boost_round=40, early_stopping_rounds=10)

    def y(f):
        return f["label"].map(LABEL_INDEX).to_numpy(dtype=int)

    model.fit(train, y(train), val, y(val))
    return tables, folder, model, end


def test_streamed_reasons_equal_per_row_reasons(portfolio, tmp_path, monkeypatch):
    tables, folder, model, as_of = portfolio
    feats = compute(folder, as_of, CFG)  # the rows the job rates (same float sums)
    rated = rating_frame(model, feats)
    exact = reason_codes(model, feats, rated["rating"])
    expected = pd.DataFrame(
        {"customer_id": feats["customer_id"], "exact": [json.dumps(r) for r in exact]}
    )
    # the pattern path from the first row on, in chunks of 37 customers
    monkeypatch.setattr(score_job, "PATTERN_SHAP_MIN_ROWS", 1)
    out = tmp_path / "ratings.parquet"
    res = score_job.score_to_parquet(folder, as_of, model, CFG, out, chunk_rows=37)
    got = pd.read_parquet(out)
    assert res["chunks"] > 3 and res["rows"] == len(got) == len(tables["customers"])
    assert got["customer_id"].is_unique
    rank = got["rating"].map({"bad": 0, "average": 1, "good": 2}).fillna(3)
    assert rank.is_monotonic_increasing  # worst first
    both = got.merge(expected, on="customer_id")
    assert len(both) == len(feats)
    # DuckDB's parallel sums may differ in the last bit between two runs: values to 12 digits
    assert [_norm(r) for r in both["reasons"]] == [_norm(r) for r in both["exact"]]
    assert (got["reason_codes"] != "").all()


def test_streamed_ratings_equal_score(portfolio, tmp_path):
    tables, folder, model, as_of = portfolio
    out = tmp_path / "ratings.parquet"
    score_job.score_to_parquet(folder, as_of, model, CFG, out, chunk_rows=100)
    got = pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True)
    expected = score_job.score(tables, as_of, model, CFG)
    cols = ["customer_id", "rating", "p_bad", "score", "reason_codes"]
    pd.testing.assert_frame_equal(got[cols], expected[cols], check_dtype=False, rtol=1e-9)
