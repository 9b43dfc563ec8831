"""`payer-model audit` reads the decision log back; `serve` builds the bentoml command."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from payer_model.adapters.audit import AuditStore
from payer_model.cli import app
from payer_model.cli.serve import SERVICE, serve_command

runner = CliRunner()


def test_audit_reads_back_and_prunes(tmp_path, monkeypatch):
    db = tmp_path / "audit.db"
    monkeypatch.setenv("PAYER_AUDIT_DB", str(db))
    store = AuditStore(db)
    store.record_decisions(
        [
            {
                "customer_id": "C1",
                "as_of": "2025-06-01",
                "segment": "s",
                "request_id": "r1",
                "key_id": "abc",
                "payload": {
                    "output": {"rating": "good", "contact": [{"email": "ap@acme.example"}]},
                    "name": "ACME",
                    "note": "name",  # the word as a value is not a key: kept
                },
            },
            {"customer_id": "C2", "as_of": "2025-06-01", "created_at": "2000-01-01T00:00:00"},
        ],
        source="api",
    )
    out = tmp_path / "out.json"
    res = runner.invoke(app, ["audit", "--customer", "C1", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert [r["request_id"] for r in data["rows"]] == ["r1"]
    assert "ACME" not in out.read_text()  # names never reach the store
    assert "ap@acme.example" not in out.read_text()  # nor emails, at any depth
    assert data["rows"][0]["payload"]["note"] == "name"
    res = runner.invoke(app, ["audit", "--prune-days", "30", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["pruned"] == 1
    assert {r["customer_id"] for r in data["rows"]} == {"C1"}


def test_serve_command_line(tmp_path):
    cmd = serve_command(3123, "127.0.0.1", tmp_path)
    assert cmd[1:4] == ["-m", "bentoml", "serve"] and SERVICE in cmd
    assert cmd[cmd.index("--port") + 1] == "3123"
    res = runner.invoke(app, ["serve", "--working-dir", str(tmp_path)])
    assert res.exit_code == 2 and "serving/service.py" in res.output


def test_serve_refuses_short_keys_at_start_up(monkeypatch):
    """A 2-character key never reaches a server: exit 2 naming the rule, not the key."""
    from serving_helpers import REPO

    monkeypatch.setenv("PAYER_API_KEYS", "ab,long-enough-key-0123")
    monkeypatch.delenv("PAYER_API_KEYS_FILE", raising=False)
    res = runner.invoke(app, ["serve", "--working-dir", str(REPO)])
    assert res.exit_code == 2
    assert "shorter than 16 characters" in " ".join(res.output.split())
    assert "ab," not in res.output
