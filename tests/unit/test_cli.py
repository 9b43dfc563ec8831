"""CLI feel: lazy imports, one-line errors, exit codes."""

import subprocess
import sys

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
