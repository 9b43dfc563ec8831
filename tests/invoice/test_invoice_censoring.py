"""Still-open invoices are right-censored: a naive regression on the paid ones is biased,
the AFT + Kaplan-Meier pay-time model is not."""

import numpy as np
import xgboost as xgb

from payer_model.modelling.survival import PayTimeModel, kaplan_meier


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 2)).astype(np.float32)
    true_median = np.exp(3.0 + 1.0 * x[:, 0])  # 20 to 55 days
    t = true_median * np.exp(rng.normal(0, 0.5, n))
    c = rng.uniform(10, 80, n)  # end of observation after T
    paid = t <= c
    lower = np.where(paid, t, c)
    upper = np.where(paid, t, np.inf)
    return x, lower, upper, paid, true_median


def test_kaplan_meier_matches_the_empirical_cdf_without_censoring():
    v = np.array([3.0, 1.0, 2.0, 2.0])
    points, cdf = kaplan_meier(v, np.ones(4, bool))
    assert points.tolist() == [1.0, 2.0, 3.0]
    assert np.allclose(cdf, [0.25, 0.75, 1.0])


def test_kaplan_meier_keeps_censored_mass_above_the_last_event():
    points, cdf = kaplan_meier(np.array([1.0, 2.0, 5.0]), np.array([True, True, False]))
    assert points.tolist() == [1.0, 2.0]
    assert cdf[-1] < 1.0


def test_censored_invoices_bias_a_naive_regression_but_not_the_aft_model():
    x, lo, up, paid, true_median = _data(6000, 0)
    xv, lov, upv, _, _ = _data(3000, 1)
    xt, _, _, _, med_t = _data(3000, 2)
    assert 0.2 < (~paid).mean() < 0.6  # a real share is still open

    # naive: squared-error regression of log days on the paid invoices only
    naive = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 3, "verbosity": 0},
        xgb.DMatrix(x[paid], label=np.log(lo[paid])),
        200,
    )
    naive_median = np.exp(naive.predict(xgb.DMatrix(xt)))
    naive_bias = np.median(np.log(naive_median / med_t))

    model = PayTimeModel({"max_depth": 3}, num_boost_round=300).fit(x, lo, up, xv, lov, upv)
    ours = model.quantile(xt, 0.5)
    our_bias = np.median(np.log(ours / med_t))

    assert naive_bias < -0.15  # paid-only regression says "pays sooner" by > 14 %
    assert abs(our_bias) < 0.07
    q10, q90 = model.quantile(xt, 0.1), model.quantile(xt, 0.9)
    truth = med_t * np.exp(np.random.default_rng(3).normal(0, 0.5, len(med_t)))
    coverage = ((truth >= q10) & (truth <= q90)).mean()
    assert 0.74 <= coverage <= 0.86
