"""CLI feel: lazy imports, one-line errors, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from payer_model.cli import app

runner = CliRunner()
HEAVY = ("mlflow", "xgboost", "bentoml", "evidently", "duckdb", "pandas", "sklearn")


def test_cli_import_is_light():
    code = (
        f"import sys, payer_model.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("generate", "validate", "features", "train", "score", "demo"):
        assert cmd in res.output


def test_missing_folder_is_one_line_error(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "error:" in res.output and "Traceback" not in res.output


def test_validate_exits_2_when_bad_share_too_high(tmp_path):
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\n"
        "I1,C1,2024-01-01,2024-01-31,100\n"
        "I2,C1,2024-01-05,2023-12-01,100\n"  # due before invoice
        "I3,C1,not-a-date,2024-01-31,100\n"
    )
    res = runner.invoke(app, ["validate", str(tmp_path), "--quarantine", str(tmp_path / "q")])
    assert res.exit_code == 2, res.output
    assert "due_before_invoice" in res.output
    assert "Traceback" not in res.output
    assert (tmp_path / "q" / "invoices.csv").exists()


def test_validate_ok_on_clean_data(tmp_path):
    from payer_model.data.generate import generate_dataset, write_dataset

    write_dataset(generate_dataset(30, 6, seed=1), tmp_path / "d")
    res = runner.invoke(
        app, ["validate", str(tmp_path / "d"), "--quarantine", str(tmp_path / "q")]
    )
    assert res.exit_code == 0, res.output
    assert "ok:" in res.output


def test_bad_config_names_the_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("labels:\n  horizon_dayz: 90\n")
    res = runner.invoke(app, ["train", str(tmp_path), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "horizon_dayz" in res.output


def test_settings_declares_every_payer_variable():
    # every PAYER_* name in the code base must be a Settings field (one place, one default)
    import re

    from payer_model.config import Settings

    root = Path(__file__).resolve().parents[2]
    names = set()
    for folder in ("src", "serving"):
        for path in (root / folder).rglob("*"):
            if path.suffix in {".py", ".yaml", ".yml", ".j2"} and path.is_file():
                names |= set(re.findall(r"\bPAYER_([A-Z][A-Z0-9_]*)", path.read_text()))
    assert "TRACKING_URI" in names  # the scan found something
    fields = Settings.model_fields
    assert sorted(n for n in names if n.lower() not in fields) == []
    assert all(f.description for f in fields.values())


def test_settings_read_the_environment(monkeypatch):
    from payer_model.config import Settings

    monkeypatch.setenv("PAYER_RATE_LIMIT_PER_MIN", "60")
    monkeypatch.setenv("PAYER_DEBUG", "1")
    monkeypatch.setenv("PAYER_API_KEYS_FILE", "/tmp/keys")
    s = Settings()
    assert s.rate_limit_per_min == 60.0 and s.debug is True and s.has_api_keys
    monkeypatch.delenv("PAYER_API_KEYS_FILE")
    monkeypatch.delenv("PAYER_API_KEYS", raising=False)
    assert not Settings().has_api_keys


def test_command_returns_its_result(tmp_path):
    from payer_model.cli.policy import policy_validate

    policies = Path(__file__).resolve().parents[2] / "serving" / "policies.yaml"
    out = tmp_path / "r.json"
    res = policy_validate(policies, json_out=out)
    assert res["rules"] > 0 and res["policy_version"]
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
