"""The small, stable portfolio regime: generator preset, tight labels, gate outcome."""

import pytest

from payer_model.config import TrainConfig
from payer_model.data.generate import preset_dataset
from payer_model.features.labels import LABEL_PRESETS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tables():
    return preset_dataset("small-stable", seed=0)


def test_small_stable_preset_is_small_fixed_terms_low_lateness_with_disputes(tables):
    cust, inv = tables["customers"], tables["invoices"]
    assert len(cust) == 100
    assert set(cust["payment_terms_days"].dropna()) == {30}
    regular = inv[inv["amount"] > 0]
    assert ((regular["due_date"] - regular["invoice_date"]).dt.days == 30).all()
    late = (regular["paid_date"] - regular["due_date"]).dt.days.dropna()
    assert late.median() <= 3 and late.mean() < 10
    assert regular["disputed"].sum() > 0
    assert not set(tables["truth"]["archetype"]) & {"new", "defaulting"}


def test_tight_labels_train_and_the_gate_keeps_the_rule_unless_the_model_earns_it(
    tables, tmp_path
):
    from payer_model.jobs.train import train

    cfg = TrainConfig(labels=LABEL_PRESETS["tight"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    metrics = train(tables, cfg, tracking_uri=uri)
    assert metrics["selection"]["chosen"] in metrics["selection"]["validation"]
    assert metrics["model"]["recall"]["bad"] is not None  # three classes out of time
    sig = metrics["significance"]
    assert {"vs_persistence", "vs_rule", "ece"} <= set(sig)
    if metrics["gate"]["passed"]:
        assert sig["vs_rule"]["lower"] > 0 and metrics["champion_kind"] != "rule"
    else:
        assert metrics["champion_kind"] == "rule"
        assert any(c.startswith("FAIL") for c in metrics["gate"]["checks"])
    assert metrics["message"].startswith("candidate ")
