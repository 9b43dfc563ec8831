"""Issue 19 against real processes: `payer-model serve` + `bentoml serve` on loopback.

SIGTERM stops the whole process tree (the port is free again), a server started before the
first champion becomes ready after `train` without a restart, an unwritable or locked audit
store withholds decisions, unknown paths share one metrics label, a stalled body is 408.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from serving_helpers import AUTH, KEY, REPO, build_request
from test_serve import START_TIMEOUT_S, Server, _env, _free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("serving")]


def _wait(url: str, status: int = 200, timeout: float = START_TIMEOUT_S) -> None:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=5).status_code
            if last == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} never answered {status} (last {last})")


def _payer_serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "payer_model", "serve", "--port", str(port), "--workers", "1"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the test's own safety net; serve makes its own group
    )


def test_sigterm_stops_the_whole_server_and_the_port_is_reused(champion_store, tmp_path):
    import psutil

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _env(champion_store["PAYER_TRACKING_URI"], tmp_path / "audit.db") | {"TMPDIR": str(tmp)}
    port = _free_port()
    proc = _payer_serve(port, env, tmp_path / "first.log")
    try:
        _wait(f"http://127.0.0.1:{port}/readyz")
        tree = psutil.Process(proc.pid).children(recursive=True)
        assert tree, "no bentoml serve child"
        homes = {p.environ().get("BENTOML_HOME") for p in tree}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) is not None
        gone, alive = psutil.wait_procs(tree, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
        assert homes and all(h and not Path(h).exists() for h in homes)  # metrics dir removed
        assert not list(tmp.glob("payer-*")), list(tmp.iterdir())  # no temp folder left
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    again = _payer_serve(port, env, tmp_path / "second.log")
    try:
        _wait(f"http://127.0.0.1:{port}/readyz")  # same port: nothing left holding it
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(60)
    assert "Address already in use" not in (tmp_path / "second.log").read_text()


def _wait_version(srv: Server, version: str, timeout: float = 60) -> None:
    deadline, meta = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        meta = httpx.get(srv.url + "/metadata", headers=AUTH, timeout=10).json()
        if meta.get("model_version") == version:
            return
        time.sleep(0.5)
    raise AssertionError(f"/metadata never showed version {version}: {meta}")


@pytest.fixture(scope="module")
def body(portfolio_tables, as_of):
    cid = sorted(portfolio_tables["invoices"]["customer_id"].unique())[3]
    return build_request(portfolio_tables, [cid], as_of, n_invoices=12)


def test_faults_on_one_server(small_portfolio, body, tmp_path):
    """Empty registry and a blocked audit folder at start; then train, unblock, lock, probe."""
    from typer.testing import CliRunner

    from payer_model.adapters.audit import AuditStore
    from payer_model.cli import app

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    blocked = tmp_path / "audit"
    blocked.write_text("a file where the audit folder should be")
    env = _env(uri, blocked / "audit.db") | {
        "PAYER_AUDIT_TIMEOUT_S": "1",
        "PAYER_BODY_TIMEOUT_S": "1",
        "PAYER_WORKERS": "1",
    }
    srv = Server(env, tmp_path / "serve.log")
    try:
        srv.wait("/livez")
        assert httpx.get(srv.url + "/readyz", timeout=10).status_code == 503

        # 8. the first champion arrives: picked up without a restart (audit still blocked)
        old = os.environ.get("PAYER_TRACKING_URI")
        os.environ["PAYER_TRACKING_URI"] = uri
        try:
            res = CliRunner().invoke(app, ["train", str(small_portfolio)])
        finally:
            os.environ.pop("PAYER_TRACKING_URI")
            if old is not None:
                os.environ["PAYER_TRACKING_URI"] = old
        assert res.exit_code == 0, res.output
        deadline = time.monotonic() + 60
        meta = {}
        while time.monotonic() < deadline and not meta.get("ready"):
            meta = httpx.get(srv.url + "/metadata", headers=AUTH, timeout=10).json()
            time.sleep(0.5)
        assert meta["ready"] and meta["model_version"], meta

        # 1. the audit store cannot take writes: not ready, and no decision is handed out
        assert httpx.get(srv.url + "/readyz", timeout=10).status_code == 503
        r = httpx.post(srv.url + "/score", json=body, headers=AUTH, timeout=30)
        assert r.status_code == 503 and "audit store" in r.json()["error"], r.text
        blocked.unlink()
        srv.wait("/readyz")  # the store came back: ready again without a restart
        r = httpx.post(srv.url + "/score", json=body, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["model_version"] == meta["model_version"]

        # 8. promote and rollback are followed without a restart; /metadata says which
        from payer_model.adapters import registry

        registry.configure(uri)
        first = meta["model_version"]
        tags = registry.version_tags("payer_rating", first)
        second = str(
            registry.register(f"models:/payer_rating/{first}", "payer_rating", tags).version
        )
        registry.promote("payer_rating", second, force=True)
        _wait_version(srv, second)
        registry.rollback("payer_rating", force=True)
        _wait_version(srv, first)

        # 1. another writer holds the store past the bounded wait: 503, nothing recorded
        holder = sqlite3.connect(blocked / "audit.db", timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            r = httpx.post(srv.url + "/score", json=body, headers=AUTH, timeout=30)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert r.status_code == 503 and "busy" in r.json()["error"], r.text
        lost = r.json()["detail"]["request_id"]
        assert lost not in {row["request_id"] for row in AuditStore(blocked / "audit.db").query()}

        # 4. unknown paths share one metrics label
        for _ in range(200):
            assert httpx.get(f"{srv.url}/x{uuid.uuid4().hex}", timeout=10).status_code == 404
        metrics = httpx.get(srv.url + "/metrics", timeout=30).text
        assert "/__other__" in metrics and "/x" not in metrics.replace("/__other__", "")

        # 9. a stalled body is the client's fault: 408, not the 30 s 504
        with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as s:
            s.sendall(
                b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {KEY}\r\nContent-Length: 500\r\n\r\n".encode()
                + b'{"customers": '
            )
            answer = s.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 408"), answer[:200]
    finally:
        srv.stop()
