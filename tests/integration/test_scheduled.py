"""The scheduled-job entry points in ``training/`` run as a scheduler would call them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, str(ROOT / "training" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.parametrize("script", ["retrain.py", "monitor.py", "refresh.py"])
def test_help_names_the_data_option(script):
    res = _run(script, "--help")
    assert res.returncode == 0, res.stderr
    assert "--data" in res.stdout


def test_missing_data_option_is_a_usage_error():
    res = _run("refresh.py", "--out", "x.parquet")
    assert res.returncode == 2
    assert "--data" in res.stderr


def test_retrain_then_refresh_on_a_small_portfolio(small_portfolio, tracking_uri, tmp_path):
    env = {**os.environ, "PAYER_AUDIT_DB": str(tmp_path / "audit.db")}
    res = _run("retrain.py", "--data", str(small_portfolio), env=env)
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout.strip().splitlines()[-1])
    assert first["reused"] is False and first["model_version"]

    again = json.loads(_run("retrain.py", "--data", str(small_portfolio), env=env).stdout)
    assert again["reused"] is True and again["run_id"] == first["run_id"]

    out = tmp_path / "scores.parquet"
    res = _run("refresh.py", "--data", str(small_portfolio), "--out", str(out), env=env)
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout.strip().splitlines()[-1])
    assert out.exists() and sum(scored["counts"].values()) > 0
