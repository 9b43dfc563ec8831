"""``payer-model policy evaluate``: learned vs playbook vs baseline on a randomised log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from payer_model.policy.chasing import compare_policies, constant_policy

ROOT = Path(__file__).resolve().parents[2]


def _frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    action = rng.choice(["none", "email+1"], size=n, p=[0.5, 0.5])
    paid_lag = rng.integers(0, 40, size=n)  # days from the decision to the payment
    df = pd.DataFrame(
        {
            "action": action,
            "propensity": 0.5,
            "sent": (action != "none") & (paid_lag >= 4),
            "paid_14": (paid_lag < 14).astype(float),
            "days_to_cash": paid_lag.astype(float),
            "cash_30": np.where(paid_lag < 30, 100.0, 0.0),
        }
    )
    for t in (-3, 1, 5):
        df[f"anyway_{t}"] = ((paid_lag - (t + 3)) >= 0) & ((paid_lag - (t + 3)) <= 3)
    df["sent"] = df["sent"].astype(float)
    return df


def test_compare_policies_counts_and_counterfactual_useless_rate() -> None:
    df = _frame()
    res = compare_policies(
        df,
        {"playbook": constant_policy(df, "email+1"), "quiet": constant_policy(df, "none")},
        n_boot=50,
    )
    email, quiet = res["policies"]["playbook"], res["policies"]["quiet"]
    assert quiet["reminders"]["ips"]["value"] == 0
    # email +1 is sent when unpaid 4 days after the decision: 36 / 40 of the invoices
    assert email["reminders"]["ips"]["value"] == pytest.approx(len(df) * 0.9, rel=0.06)
    # useless: paid 4..7 days after the decision anyway: 4 / 36 of the sent reminders
    assert email["useless_rate"]["ips"]["value"] == pytest.approx(4 / 36, abs=0.03)
    diff = res["vs_playbook"]["quiet-playbook"]["reminders"]["ips"]
    assert diff["hi"] < 0


@pytest.fixture(scope="module")
def uplift_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from payer_model.data.generate import generate_dataset, write_dataset

    out = tmp_path_factory.mktemp("uplift")
    write_dataset(generate_dataset(2500, 20, seed=4, uplift=True), out)
    return out


@pytest.mark.integration
def test_policy_evaluate_cli(uplift_dir: Path, tracking_uri: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from payer_model.adapters.registry import run_artifact_text
    from payer_model.cli import app

    out = tmp_path / "eval.json"
    res = CliRunner().invoke(
        app,
        [
            "policy", "evaluate", str(uplift_dir), "--from", "2024-02-01", "--to", "2024-07-01",
            "--policy", str(ROOT / "serving" / "policies-learned.yaml"),
            "--n-boot", "100", "--json", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "logged decisions" in res.output and "truth check" in res.output
    r = json.loads(out.read_text())
    pol = r["all"]["policies"]
    # the learned policy sends fewer reminders than the fixed playbook, paired interval < 0
    assert r["all"]["vs_playbook"]["learned-playbook"]["reminders"]["ips"]["hi"] < 0
    exc = r["segments"]["Excellent payer"]["policies"]
    assert (
        exc["learned"]["reminders"]["ips"]["value"] < exc["playbook"]["reminders"]["ips"]["value"]
    )
    for name in ("learned", "playbook", "baseline"):
        for metric in ("paid_14", "cash_30"):
            assert {"ips", "dr"} <= set(pol[name][metric])
            e = pol[name][metric]["dr"]
            assert e["lo"] <= e["value"] <= e["hi"]
    # the strongest effect (calls on chronic late payers) is recovered
    cells = {(c["archetype"], c["channel"]): c for c in r["truth_check"]["channels"]}
    call = cells[("chronic_late", "call")]
    assert call["estimated"] == pytest.approx(call["true"], rel=0.3)
    card = run_artifact_text(r["run_id"], "model_card.md")
    assert "causal *only* under the logged randomisation" in card


def test_evaluate_without_log_names_the_fix(tmp_path: Path) -> None:
    from payer_model.jobs.chase import read_chase_log

    with pytest.raises(FileNotFoundError, match="generate --uplift"):
        read_chase_log(tmp_path)
