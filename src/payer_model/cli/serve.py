"""``payer-model serve`` (the BentoML API) and ``payer-model audit`` (read the decision log)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from payer_model.cli.common import JsonOpt, app, command, console, settings

SERVICE = "serving.service:PayerModelService"
STOP_GRACE_S = 20.0
log = logging.getLogger(__name__)


def serve_command(port: int, host: str, working_dir: Path) -> list[str]:
    """The ``bentoml serve`` command line for the payer-model service."""
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--host",
        host,
        "--port",
        str(port),
        "--working-dir",
        str(working_dir),
    ]


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="HTTP port")] = 3000,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    working_dir: Annotated[
        Path, typer.Option(help="folder holding serving/service.py [current folder]")
    ] = Path("."),
    workers: Annotated[
        int | None, typer.Option(min=1, help="worker processes [PAYER_WORKERS, else cores]")
    ] = None,
) -> None:
    """Start the scoring API (BentoML) on HOST:PORT; settings from PAYER_* variables.

    Needs API keys in PAYER_API_KEYS (comma-separated) or PAYER_API_KEYS_FILE; callers send
    'Authorization: Bearer KEY'. /readyz answers 503 until a champion is loaded.
    """
    if not (working_dir / "serving" / "service.py").is_file():
        console.print(f"[bold red]error:[/] no serving/service.py under {working_dir.resolve()}")
        raise typer.Exit(2)
    if not settings().has_api_keys:
        console.print(
            "[yellow]warning:[/] no PAYER_API_KEYS / PAYER_API_KEYS_FILE set: "
            "every API call will be refused (401)"
        )
    from payer_model.config import ConfigError, configured_api_keys

    try:
        configured_api_keys(settings())
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    cmd = serve_command(port, host, working_dir)
    env = {**os.environ} | ({"PAYER_WORKERS": str(workers)} if workers else {})
    n = workers or settings().workers or os.cpu_count()
    console.print(f"serving on http://{host}:{port} with {n} worker(s)", highlight=False)
    raise typer.Exit(run_server(cmd, env))


def run_server(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``bentoml serve`` in its own process group; stop all of it when this one stops.

    SIGTERM, SIGINT and SIGHUP are forwarded to the whole group (the BentoML arbiter and its
    workers); once the arbiter exits, anything left of the group gets SIGKILL after
    :data:`STOP_GRACE_S`. Each server gets its own BentoML home (and so its own Prometheus
    multiprocess folder) holding its rate-limit file too (unless ``PAYER_RATE_LIMIT_DB``
    is set), removed at exit: servers on one host never share metrics files.

    Returns:
        The exit status of ``bentoml serve``.
    """
    home = tempfile.mkdtemp(prefix="payer-serve-")
    env = env | {"BENTOML_HOME": home}
    if not env.get("PAYER_RATE_LIMIT_DB"):
        env["PAYER_RATE_LIMIT_DB"] = os.path.join(home, "ratelimit.db")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def forward(signum, _frame) -> None:
        _signal_group(proc.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        while True:
            try:
                rc = proc.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - SIGINT is forwarded, not raised
                continue
    finally:
        _stop_group(proc.pid)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(home, ignore_errors=True)
    return rc


_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _stop_group(pgid: int) -> None:
    """SIGTERM what is left of the group, then SIGKILL after the grace period."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        if not _signal_group(pgid, 0):
            return
        time.sleep(0.2)
    log.warning("bentoml serve workers still running after %.0f s: killed", STOP_GRACE_S)
    _signal_group(pgid, signal.SIGKILL)


@app.command()
@command
def audit(
    customer: Annotated[
        str | None, typer.Option("--customer", help="customer id to show decisions for")
    ] = None,
    limit: Annotated[int, typer.Option(help="rows to show, newest first")] = 20,
    prune_days: Annotated[
        int | None,
        typer.Option("--prune-days", help="first delete decisions older than N days"),
    ] = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Read decisions back from the audit store (PAYER_AUDIT_DB); optionally prune old ones."""
    from payer_model.adapters.audit import AuditStore

    path = settings().audit_db
    store = AuditStore(path)
    pruned = store.prune(prune_days) if prune_days is not None else 0
    if prune_days is not None:
        console.print(f"pruned {pruned:,} decisions older than {prune_days} days")
    rows = store.query(customer_id=customer, limit=limit)
    table = Table(title=f"decisions in {path}" + (f" for {customer}" if customer else ""))
    for col in (
        "created",
        "customer",
        "as_of",
        "source",
        "segment",
        "rating",
        "model",
        "policy",
        "request",
        "key",
    ):
        table.add_column(col)
    for r in rows:
        out = r["payload"].get("output", r["payload"]) if r["payload"] else {}
        table.add_row(
            r["created_at"],
            r["customer_id"],
            r["as_of"],
            r["source"],
            str(r["segment"]),
            str(out.get("rating", "")),
            str(r["model_version"]),
            str(r["policy_version"]),
            str(r["request_id"] or "")[:12],
            str(r["key_id"] or ""),
        )
    console.print(table)
    return {
        "audit_db": str(path),
        "pruned": pruned,
        "customer": customer,
        "rows": json.loads(json.dumps(rows, default=str)),
    }
