"""The live loop from the command line with a real champion (MLflow sqlite store in tmp)."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from payer_model.cli import app

runner = CliRunner()
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(small_portfolio, tmp_path_factory):
    root = tmp_path_factory.mktemp("live-cli")
    env = {"PAYER_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    res = runner.invoke(app, ["train", str(small_portfolio)], env=env)
    assert res.exit_code == 0, res.output
    return root, env


def test_ingest_refresh_alerts_outbox_customer_review(trained, small_portfolio, tmp_path):
    root, env = trained
    env = {
        **env,
        "PAYER_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "PAYER_AUDIT_DB": str(tmp_path / "audit.db"),
        "PAYER_COLLECTORS": "ann,bob",
        "PAYER_COLLECTOR_CAPACITY": "1000",
    }
    last = pd.read_csv(small_portfolio / "invoices.csv")["invoice_date"].max()
    as_of = (pd.Timestamp(last) - pd.Timedelta(days=30)).date().isoformat()

    res = runner.invoke(
        app,
        [
            "ingest",
            str(small_portfolio),
            "--as-of",
            as_of,
            "--json",
            str(tmp_path / "ingest.json"),
        ],
        env=env,
    )
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "ingest.json").read_text())
    assert out["accepted"] > 1000 and out["quarantined"] == 0 and out["rescored"] == 400

    again = runner.invoke(app, ["ingest", str(small_portfolio), "--as-of", as_of], env=env)
    assert again.exit_code == 0 and "0 accepted" in again.output

    bad = tmp_path / "events.jsonl"
    bad.write_text(
        '{"event_id": "x1", "type": "invoice_issued", "customer_id": "C000001"}\nnot json\n'
    )
    res = runner.invoke(app, ["ingest", str(bad), "--as-of", as_of], env=env)
    assert res.exit_code == 0 and "2 quarantined" in res.output

    res = runner.invoke(
        app, ["refresh", "--as-of", as_of, "--json", str(tmp_path / "r.json")], env=env
    )
    assert res.exit_code == 0, res.output
    refreshed = json.loads((tmp_path / "r.json").read_text())
    assert refreshed["rescored"] == 0  # the ingest already scored everyone as of that day
    assert refreshed["assigned"] == 400

    res = runner.invoke(app, ["outbox", "export", "--date", as_of, "--format", "csv"], env=env)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert len(rows) == refreshed["planned_messages"] > 0
    assert {"message_id", "channel", "text"} <= set(rows[0])

    cid = rows[0]["customer_id"]
    res = runner.invoke(app, ["customer", cid, "--json", str(tmp_path / "c.json")], env=env)
    assert res.exit_code == 0, res.output
    view = json.loads((tmp_path / "c.json").read_text())
    assert view["rating"] and view["segment"] and view["invoices_at_risk"]
    assert view["collector"] in ("ann", "bob") and view["next_actions"]

    res = runner.invoke(app, ["assign", cid, "cat", "--by", "kim", "--why", "language"], env=env)
    assert res.exit_code == 0 and "-> cat" in res.output, res.output
    res = runner.invoke(app, ["customer", cid, "--json", str(tmp_path / "c2.json")], env=env)
    assert json.loads((tmp_path / "c2.json").read_text())["collector"] == "cat"

    res = runner.invoke(app, ["customer", "NOPE"], env=env)
    assert res.exit_code == 2 and "not in the ledger" in res.output

    res = runner.invoke(app, ["alerts", "--json", str(tmp_path / "a.json")], env=env)
    assert res.exit_code == 0
    res = runner.invoke(app, ["review", "list", "--json", str(tmp_path / "rv.json")], env=env)
    assert res.exit_code == 0, res.output
    reviews = json.loads((tmp_path / "rv.json").read_text())["reviews"]
    if reviews:  # natural persons with a hold / reduction wait for a person
        rid = str(reviews[0]["id"])
        res = runner.invoke(
            app, ["review", "approve", rid, "--by", "kim", "--why", "paid"], env=env
        )
        assert res.exit_code == 0 and "approved by kim" in res.output
        res = runner.invoke(app, ["review", "reject", rid, "--by", "kim", "--why", "x"], env=env)
        assert res.exit_code == 2 and "no pending review" in res.output
