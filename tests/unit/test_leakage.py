"""The leakage check used in the notebooks can fail, and passes on real features."""

import pandas as pd

from payer_model.data.generate import generate_dataset
from payer_model.features import build_features
from payer_model.features.leakage import future_invariance_check, perturb_future


def test_future_events_do_not_move_features_on_generated_data():
    inv = generate_dataset(80, 14, seed=2)["invoices"]
    assert future_invariance_check(inv, "2023-10-01")


def test_the_perturbation_is_visible_after_t():
    inv = generate_dataset(80, 14, seed=2)["invoices"]
    later = pd.Timestamp("2023-12-01")
    a = build_features(inv, later)
    b = build_features(perturb_future(inv, "2023-10-01"), later)
    assert not a.equals(b)
