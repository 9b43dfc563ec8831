"""Reason codes: present for every scored customer and consistent with the rating."""

import json

import pytest

from payer_model.config import TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.jobs.score import score
from payer_model.modelling.explain import GROUP_CODES, INSUFFICIENT_HISTORY
from payer_model.modelling.fit import fit_and_evaluate

pytestmark = pytest.mark.slow
WORSE = {w for w, _ in GROUP_CODES.values()} | {"NO_RECENT_PAYMENTS"}
BETTER = {b for _, b in GROUP_CODES.values()}


@pytest.fixture(scope="module")
def scored():
    tables = generate_dataset(500, 20, seed=11)
    cfg = TrainConfig()
    fit = fit_and_evaluate(tables, cfg)
    return score(tables, "2024-06-01", fit.model, cfg), fit


def test_every_customer_has_reasons(scored):
    ratings, _ = scored
    assert len(ratings) == 500
    for _, row in ratings.iterrows():
        reasons = json.loads(row["reasons"])
        assert 1 <= len(reasons) <= 3
        assert all(r["code"] and r["text"] for r in reasons)


def test_reasons_agree_with_the_rating(scored):
    ratings, _ = scored
    for _, row in ratings.iterrows():
        codes = {r["code"] for r in json.loads(row["reasons"])}
        if row["rating"] == "unrated":
            assert codes == {INSUFFICIENT_HISTORY}
        elif row["rating"] == "good":
            assert codes <= BETTER, codes
        else:
            assert codes <= WORSE | {"PROFILE_RISK"}, codes


def test_reason_sentences_use_the_customers_numbers(scored):
    ratings, _ = scored
    bad = ratings[ratings["rating"] == "bad"]
    texts = [r["text"] for v in bad["reasons"] for r in json.loads(v)]
    assert any("portfolio median" in t for t in texts)
    assert any(any(ch.isdigit() for ch in t) for t in texts)


def test_contributions_are_positive_and_sorted(scored):
    ratings, _ = scored
    for v in ratings.loc[ratings["rating"] != "unrated", "reasons"]:
        contribs = [r["contribution"] for r in json.loads(v)]
        assert all(c > 0 for c in contribs)
        assert contribs == sorted(contribs, reverse=True)


def test_reason_codes_follow_the_direction_of_their_contribution(scored):
    """Over the out-of-time sample: a favourable code never sits on a risk-raising
    contribution and vice versa, and no sentence reads backwards."""
    import numpy as np

    from payer_model.modelling.explain import RISK_SIGN, reason_codes

    _, fit = scored
    model, rows = fit.model, fit.test
    ratings = model.predict_rating(rows)
    reasons = reason_codes(model, rows, ratings)
    heads = np.where(ratings == "bad", 1, 0)
    contrib = model.contributions(rows, heads)[:, :-1]
    cols = model.encoder_.columns
    checked = 0
    for i, rs in enumerate(reasons):
        for r in rs:
            # risk contribution of the reason's feature (one-hot columns summed back)
            risk = sum(
                contrib[i, k] for k, c in enumerate(cols) if c.split("=", 1)[0] == r["feature"]
            )
            if r["code"] in BETTER:
                assert r["direction"] == "lowers_risk" and risk < 0, (r, risk)
            else:
                assert r["code"] in WORSE | {"PROFILE_RISK"}, r
                assert r["direction"] == "raises_risk" and risk > 0, (r, risk)
            sign = RISK_SIGN.get(r["feature"])
            if sign and isinstance(r["value"], float) and r["reference"] is not None:
                gap = (r["value"] - r["reference"]) * sign
                assert gap > 0 if r["direction"] == "raises_risk" else gap <= 0, r
            if r["code"] == "RESPONSIVE_TO_REMINDERS" and r["feature"] == "reminders_per_paid":
                assert r["value"] <= r["reference"], r
            checked += 1
    assert checked > len(rows)  # most rated rows carry several reasons
