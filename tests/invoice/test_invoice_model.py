"""Invoice targets, bands, the gate, and the saved model (no pickle)."""

import json

import numpy as np
import pandas as pd
import pytest

from payer_model.config import InvoiceConfig, TrainConfig
from payer_model.data.generate import generate_dataset
from payer_model.modelling.invoice import InvoiceLateModel, bands, invoice_targets
from payer_model.modelling.invoice_fit import fit_invoice_model, invoice_gate

T = pd.Timestamp("2024-03-01")


def _snap(due_days):
    return pd.DataFrame(
        {
            "invoice_id": [f"I{i}" for i in range(len(due_days))],
            "customer_id": "C1",
            "as_of": T,
            "due_date": [T + pd.Timedelta(days=d) for d in due_days],
        }
    )


def test_targets_paid_late_on_time_and_censored():
    snap = _snap([10, 10, -5, 125])
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I0", "I1", "I2", "I3"],
            "paid_date": [T + pd.Timedelta(days=9), T + pd.Timedelta(days=50), pd.NaT, pd.NaT],
        }
    )
    out = invoice_targets(snap, invoices, 120, InvoiceConfig())
    assert out["late"].tolist()[:3] == [0.0, 1.0, 1.0]
    assert np.isnan(out["late"].iloc[3])  # unpaid at E, but E is not past due + tolerance
    assert out["very_late"].tolist()[:3] == [0.0, 1.0, 1.0]  # I2: >= 125 days late at E
    assert out["t_lower"].tolist() == [10.0, 51.0, 120.0, 120.0]
    assert np.isinf(out["t_upper"].iloc[2]) and out["t_upper"].iloc[1] == 51.0


def test_tolerance_comes_from_config():
    snap = _snap([10])
    invoices = pd.DataFrame({"invoice_id": ["I0"], "paid_date": [T + pd.Timedelta(days=13)]})
    assert invoice_targets(snap, invoices, 120, InvoiceConfig())["late"].iloc[0] == 1.0
    lenient = InvoiceConfig(late_tolerance_days=5)
    assert invoice_targets(snap, invoices, 120, lenient)["late"].iloc[0] == 0.0


def test_bands_follow_the_configured_thresholds():
    p = np.array([0.1, 0.5, 0.75, 0.76, 0.99])
    assert bands(p, (0.5, 0.75)).tolist() == ["Low", "Medium", "Medium", "High", "High"]
    assert bands(p, (0.2, 0.9)).tolist() == ["Low", "Medium", "Medium", "Medium", "High"]
    with pytest.raises(ValueError, match="band_thresholds"):
        InvoiceConfig(band_thresholds=(0.8, 0.5))


def _metrics(auc, base_auc, mae, base_mae):
    return {
        "model": {"late": {"auc": auc}, "date": {"mae_days": mae}},
        "baselines": {
            "late_share": {"late": {"auc": base_auc}},
            "customer_mean": {"date": {"mae_days": base_mae}},
        },
    }


@pytest.mark.parametrize(
    ("auc", "mae", "passes"),
    [(0.90, 10.0, True), (0.80, 10.0, False), (0.90, 16.0, False), (0.83, 15.0, False)],
)
def test_gate_needs_both_baselines_beaten(auc, mae, passes):
    ok, checks = invoice_gate(_metrics(auc, 0.83, mae, 15.0), TrainConfig())
    assert ok is passes
    assert len(checks) == 2 and all(c.startswith(("pass: ", "FAIL: ")) for c in checks)


def test_gate_margins_and_champion():
    cfg = TrainConfig(invoice=InvoiceConfig(min_auc_gain=0.05, max_mae_ratio=0.8))
    assert invoice_gate(_metrics(0.87, 0.83, 10.0, 15.0), cfg)[0] is False  # gain 0.04
    assert invoice_gate(_metrics(0.89, 0.83, 12.5, 15.0), cfg)[0] is False  # ratio 0.83
    assert invoice_gate(_metrics(0.89, 0.83, 11.0, 15.0), cfg)[0] is True
    ok, checks = invoice_gate(_metrics(0.89, 0.83, 11.0, 15.0), cfg, {"auc": 0.9})
    assert ok is False and "champion" in checks[-1]


@pytest.fixture(scope="module")
def fitted():
    d = generate_dataset(250, 20, seed=5)
    tables = {k: d[k] for k in ("customers", "invoices", "payments", "reminders")}
    cfg = TrainConfig(invoice=InvoiceConfig(num_boost_round=60))
    return fit_invoice_model(tables, cfg)


@pytest.mark.slow
def test_predictions_are_consistent_and_survive_a_save(fitted, tmp_path):
    pred = fitted.model.predict(fitted.test)
    assert pred["p_late"].between(0, 1).all()
    assert (pred["p_late_30"] <= pred["p_late"]).all()
    ok = pred["pay_date_high"].notna()
    assert (pred.loc[ok, "pay_date_low"] <= pred.loc[ok, "expected_pay_date"]).all()
    assert (pred.loc[ok, "expected_pay_date"] <= pred.loc[ok, "pay_date_high"]).all()
    assert (pred["expected_pay_date"] >= pred["as_of"]).all()
    fitted.model.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert all(f.endswith((".json", ".ubj")) for f in files)  # no pickle
    again = InvoiceLateModel.load(tmp_path / "m").predict(fitted.test)
    pd.testing.assert_frame_equal(pred, again)
    spec = json.loads((tmp_path / "m" / "spec.json").read_text())
    spec["kind"] = "xgboost"
    (tmp_path / "m" / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="not 'invoice_late'"):
        InvoiceLateModel.load(tmp_path / "m")
