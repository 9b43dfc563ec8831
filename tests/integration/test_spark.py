"""Spark runs the same feature SQL as DuckDB: equal features, ratings and batch scores."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.features import FEATURE_COLUMNS, build_features
from payer_model.modelling.model import rating_frame

pytestmark = [
    pytest.mark.integration,
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.xdist_group("spark"),
]


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for the module, small shuffles, no UI."""
    pytest.importorskip("pyspark")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from payer_model.features.spark import spark_session

    session = spark_session(
        "payer-model-tests",
        master="local[2]",
        **{
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "2g",
            "spark.ui.showConsoleProgress": "false",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def portfolio():
    """200 customers over 18 months with payments, reminders, disputes, write-offs."""
    tables = generate_dataset(200, 18, seed=3)
    start = pd.Timestamp(tables["invoices"]["invoice_date"].min()).normalize()
    cutoffs = [start + pd.DateOffset(months=m) for m in (8, 12, 17)]
    return tables, cutoffs


def _kw(tables):
    return {
        "customers": tables["customers"],
        "payments": tables.get("payments"),
        "reminders": tables.get("reminders"),
    }


@pytest.fixture(scope="module")
def both(spark, portfolio):
    tables, cutoffs = portfolio
    duck = build_features(tables["invoices"], cutoffs, **_kw(tables))
    sprk = build_features(tables["invoices"], cutoffs, engine="spark", spark=spark, **_kw(tables))
    return duck, sprk


def test_spark_features_equal_duckdb(both, portfolio):
    duck, sprk = both
    assert list(sprk.columns) == list(FEATURE_COLUMNS)
    assert (sprk.dtypes == duck.dtypes).all()
    assert sprk["as_of"].nunique() == len(portfolio[1])
    # the sample exercises every family, so equality is not vacuous
    for col in ("p90_days_late_12m", "aging_90p", "reminder_response_rate", "prev_label_code"):
        assert duck[col].notna().any() and (duck[col].fillna(0) != 0).any(), col
    key = ["as_of", "customer_id"]
    duck = duck.sort_values(key).reset_index(drop=True)
    sprk = sprk.sort_values(key).reset_index(drop=True)
    # money totals run into the millions: summed in another order they differ by a few ulps
    # (~1e-15 relative, as DuckDB differs from itself between runs), so they are compared
    # relatively; every other column to 1e-9 absolute
    money = [c for c in duck.columns if c.endswith(("_amt", "_limit")) or c.startswith("aging")]
    rest = [c for c in duck.columns if c not in money]
    pd.testing.assert_frame_equal(duck[rest], sprk[rest], check_exact=False, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(
        duck[money], sprk[money], check_exact=False, rtol=1e-12, atol=1e-9
    )


def test_unknown_engine_is_a_clear_error(portfolio):
    tables, cutoffs = portfolio
    with pytest.raises(ValueError, match="unknown engine"):
        build_features(tables["invoices"], cutoffs, engine="polars")


@pytest.fixture(scope="module")
def model():
    """A model trained by the project's own out-of-time fit on a separate portfolio."""
    from payer_model.jobs.train import fit_and_evaluate

    return fit_and_evaluate(generate_dataset(300, 20, seed=11), TrainConfig()).model


def test_same_ratings_and_spark_batch_scoring(spark, both, model, tmp_path):
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    from payer_model.adapters.pyfunc import PayerRatingPyfunc

    duck, sprk = both
    want = rating_frame(model, duck)
    got = rating_frame(model, sprk)
    assert (want["rating"].to_numpy() == got["rating"].to_numpy()).all()
    assert want["rating"].nunique() >= 2

    bundle = model.save(tmp_path / "bundle")
    path = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(
        path,
        python_model=PayerRatingPyfunc(),
        artifacts={"bundle": str(bundle)},
        signature=infer_signature(sprk.head(20), want.head(20)[["rating", "p_bad"]]),
    )
    udf = mlflow.pyfunc.spark_udf(
        spark,
        str(path),
        env_manager="local",
        result_type="rating string, p_good double, p_average double, p_bad double",
    )
    sdf = spark.createDataFrame(sprk)
    scored = (
        sdf.withColumn("r", udf(*[sdf[c] for c in FEATURE_COLUMNS]))
        .select("customer_id", "as_of", "r.*")
        .toPandas()
        .sort_values(["as_of", "customer_id"])
    )
    ref = want.assign(customer_id=duck["customer_id"], as_of=duck["as_of"]).sort_values(
        ["as_of", "customer_id"]
    )
    assert len(scored) == len(ref)
    assert (scored["rating"].to_numpy() == ref["rating"].to_numpy()).all()
    np.testing.assert_allclose(scored["p_bad"], ref["p_bad"], rtol=0, atol=1e-9)
