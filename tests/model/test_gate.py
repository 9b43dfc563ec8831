"""The promotion gate tests gains and calibration with a paired bootstrap over customers."""

import numpy as np

from payer_model.config import TrainConfig
from payer_model.modelling.evaluation import model_card
from payer_model.modelling.fit import gate
from payer_model.modelling.metrics import classification_metrics
from payer_model.modelling.significance import gate_intervals, paired_gain

RNG = np.random.default_rng(0)
N_CUSTOMERS, CUTOFFS = 150, 4
GROUPS = np.repeat([f"C{i:04d}" for i in range(N_CUSTOMERS)], CUTOFFS)
Y = RNG.integers(0, 3, len(GROUPS))


def _noisy(y, accuracy, seed):
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(y)) > accuracy
    return np.where(wrong, (y + rng.integers(1, 3, len(y))) % 3, y)


def _proba(pred, confidence):
    """Calibrated-looking probabilities: ``confidence`` on the predicted class."""
    p = np.full((len(pred), 3), (1 - confidence) / 2)
    p[np.arange(len(pred)), pred] = confidence
    return p


def _metrics(pred, proba, baselines):
    sig = gate_intervals(Y, proba, pred, baselines, GROUPS)
    return {
        "model": classification_metrics(Y, proba, pred),
        "baselines": {
            name: classification_metrics(Y, _proba(ref, 0.6), ref)
            for name, ref in baselines.items()
        },
        "significance": sig,
    }


PERSISTENCE = _noisy(Y, 0.6, 1)
RULE = _noisy(Y, 0.55, 2)


def test_a_model_equal_to_the_baseline_has_no_significant_gain():
    g = paired_gain(Y, PERSISTENCE, PERSISTENCE, GROUPS)
    assert g["gain"] == 0 and g["lower"] == 0 and g["upper"] == 0


def test_a_model_equal_to_persistence_fails_the_gate():
    cfg = TrainConfig()
    cfg.gate.min_gain_over_persistence = 0.0  # only the interval can stop it
    m = _metrics(PERSISTENCE, _proba(PERSISTENCE, 0.6), {"persistence": PERSISTENCE, "rule": RULE})
    passed, checks = gate(m, cfg)
    assert not passed
    assert any(c.startswith("FAIL: macro-F1 gain over persistence") for c in checks)


def test_a_slightly_better_model_fails_when_its_gain_is_noise():
    # a handful of rows better than persistence: a positive point gain, an interval across 0
    pred = PERSISTENCE.copy()
    fix = np.flatnonzero(pred != Y)[:4]
    pred[fix] = Y[fix]
    g = paired_gain(Y, pred, PERSISTENCE, GROUPS)
    assert g["gain"] > 0 and g["lower"] <= 0


def test_a_clearly_better_calibrated_model_passes():
    pred = _noisy(Y, 0.85, 3)
    m = _metrics(pred, _proba(pred, 0.85), {"persistence": PERSISTENCE, "rule": RULE})
    cfg = TrainConfig()
    cfg.gate.min_auc_bad = 0.5
    passed, checks = gate(m, cfg)
    assert passed, checks
    assert m["significance"]["vs_rule"]["lower"] > 0
    assert m["significance"]["ece"]["upper"] <= cfg.gate.max_ece


def test_an_overconfident_model_fails_on_the_ece_upper_bound():
    pred = _noisy(Y, 0.85, 3)
    m = _metrics(pred, _proba(pred, 0.97), {"persistence": PERSISTENCE, "rule": RULE})
    cfg = TrainConfig()
    cfg.gate.min_auc_bad = 0.5
    passed, checks = gate(m, cfg)
    assert not passed
    assert any(c.startswith("FAIL: ECE") for c in checks)


def test_the_model_card_shows_the_intervals():
    pred = _noisy(Y, 0.85, 3)
    m = _metrics(pred, _proba(pred, 0.85), {"persistence": PERSISTENCE, "rule": RULE})
    m |= {
        "train_window": {"rows": 1, "val_rows": 1},
        "test_window": {"rows": len(Y)},
    }
    cfg = TrainConfig()
    passed, checks = gate(m, cfg)
    card = model_card(
        m,
        version="1",
        name="payer_rating",
        features=["a"],
        labels=cfg.labels.model_dump(),
        split={},
        gate={"passed": passed, "checks": checks},
    )
    gain = m["significance"]["vs_persistence"]
    assert "Gate intervals (90% paired bootstrap over customers)" in card
    assert f"[{gain['lower']:+.3f}, {gain['upper']:+.3f}]" in card


def test_a_calibrated_model_on_a_small_window_is_not_failed_by_noise():
    """Labels drawn from the model's own probabilities: calibrated by construction. The
    plain percentile bound counts the noise twice; the bias-adjusted one does not."""
    from payer_model.modelling.significance import ece_interval

    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(600), 4)
    proba = rng.dirichlet([2.0, 2.0, 2.0], len(groups))
    y = (rng.random(len(groups))[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    e = ece_interval(y, proba, groups)
    assert e["lower"] <= e["ece"] <= e["percentile_upper"]
    assert e["upper"] < e["percentile_upper"]
    assert e["upper"] <= TrainConfig().gate.max_ece
