"""Monitoring end to end: Evidently reports, migration, alerts, portfolio page, retrain."""

import json

import pandas as pd
import pytest
from browser import dump_dom
from typer.testing import CliRunner

from payer_model.cli import app
from payer_model.config import load_config
from payer_model.data.generate import generate_dataset, write_dataset
from payer_model.jobs.train import train

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("monitoring")]

REF, CUR = "2024-02-01", "2024-08-01"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A champion trained once with pipeline.train, a clean and a shifted portfolio."""
    root = tmp_path_factory.mktemp("monitoring")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("PAYER_TRACKING_URI", uri)
    mp.setenv("PAYER_ARTIFACT_ROOT", str(root / "artifacts"))
    mp.setenv("PAYER_AUDIT_DB", str(root / "audit.db"))
    cfg = load_config("training/configs/train.yaml")
    train(generate_dataset(400, 20, seed=7), cfg, tracking_uri=uri)
    dirs = {}
    for name, shift in (("clean", None), ("shift", REF)):
        dirs[name] = root / name
        write_dataset(generate_dataset(400, 20, seed=11, shift_from=shift), dirs[name])
    mcfg = root / "monitor.yaml"
    mcfg.write_text("monitoring:\n  history_months: 2\n  worklist_top: 10\n")
    yield {"root": root, "uri": uri, "cfg": mcfg, **dirs}
    mp.undo()


def _monitor(env, name):
    out = env["root"] / f"out_{name}"
    res = CliRunner().invoke(
        app,
        [
            "monitor",
            str(env[name]),
            "--reference",
            REF,
            "--current",
            CUR,
            "--out",
            str(out),
            "--workspace",
            str(env["root"] / "workspace"),
            "--monitor-config",
            str(env["cfg"]),
            "--json",
            str(out / "result.json"),
        ],
    )
    return res, out


@pytest.fixture(scope="module")
def shifted(env):
    return _monitor(env, "shift")


def test_shift_raises_alerts_and_bad_share_rises(shifted):
    res, out = shifted
    assert res.exit_code == 1, res.output
    alerts = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    kinds = {a["type"] for a in alerts}
    assert {"bad_share_up", "feature_drift_share"} <= kinds
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bad_share_rated"]["current"] > summary["bad_share_rated"]["reference"] + 0.05
    bad = next(a for a in alerts if a["type"] == "bad_share_up")
    assert bad["customers"] and all(c.startswith("C") for c in bad["customers"])


def test_reports_migration_and_workspace(env, shifted):
    _, out = shifted
    html = (out / "report.html").read_text()
    assert len(html) > 10_000 and "<html" in html.lower()
    snap = json.loads((out / "snapshot.json").read_text())
    assert snap["metrics"]
    assert (out / "report_amount.html").exists()
    summary = json.loads((out / "summary.json").read_text())
    by_count = summary["drift"]["evidently"]["count"]
    assert {"p_bad", "rating", "segment"} <= set(by_count)
    assert {"psi", "js"} <= set(summary["drift"]["by_amount"]["segment"])
    mig = pd.read_csv(out / "migration.csv", index_col=0)
    assert mig.to_numpy().sum() == summary["customers"]["current"] == 400
    moved = pd.read_csv(out / "movers.csv")
    assert len(moved) == mig.to_numpy().sum() - mig.to_numpy().trace()
    assert moved["reason"].str.contains("->").all()
    kpis = pd.read_csv(out / "kpis.csv")
    assert {"dso", "cei", "useless_reminder_rate"} <= set(kpis.columns)
    assert (env["root"] / "workspace").exists()
    assert summary["workspace"].get("project_id")


def test_no_shift_no_alert(env):
    res, out = _monitor(env, "clean")
    assert res.exit_code == 0, res.output
    assert (out / "alerts.jsonl").read_text() == ""


def test_bad_dates_exit_2(env):
    res = CliRunner().invoke(
        app,
        [
            "monitor",
            str(env["clean"]),
            "--reference",
            CUR,
            "--current",
            REF,
            "--out",
            str(env["root"] / "bad"),
        ],
    )
    assert res.exit_code == 2


@pytest.mark.browser
def test_portfolio_renders_in_chromium(shifted, tmp_path):
    _, out = shifted
    dom = dump_dom(out / "portfolio.html", tmp_path / "profile")
    assert 'data-rendered="ok"' in dom
    assert dom.count("<rect") > 10 and 'id="heatmap"' in dom and 'id="mix"' in dom


def test_retrain_idempotent(env):
    from mlflow import MlflowClient

    from payer_model.adapters import registry

    registry.configure(env["uri"])
    name = load_config("training/configs/train.yaml").registered_model
    args = ["retrain", str(env["clean"]), "--as-of", "2024-06-01"]
    first = CliRunner().invoke(app, [*args, "--json", str(env["root"] / "r1.json")])
    assert first.exit_code == 0, first.output
    n_versions = len(MlflowClient().search_model_versions(f"name='{name}'"))
    second = CliRunner().invoke(app, [*args, "--json", str(env["root"] / "r2.json")])
    assert second.exit_code == 0, second.output
    r1 = json.loads((env["root"] / "r1.json").read_text())
    r2 = json.loads((env["root"] / "r2.json").read_text())
    assert not r1["reused"] and r2["reused"] and r2["run_id"] == r1["run_id"]
    assert len(MlflowClient().search_model_versions(f"name='{name}'")) == n_versions
    assert r2["decision"] == r1["decision"]
    tags = MlflowClient().get_run(r1["run_id"]).data.tags
    assert tags["job"] == "retrain" and tags["retrain_decision"] == r1["decision"]
    assert tags["config_hash"] == r1["config_hash"]
    from payer_model.adapters.audit import AuditStore

    rows = [r for r in AuditStore(env["root"] / "audit.db").query() if r["source"] == "retrain"]
    assert len(rows) == 1 and rows[0]["payload"]["decision"] == r1["decision"]
