"""``payer-model serve`` (the BentoML API) and ``payer-model audit`` (read the decision log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from payer_model.cli.common import JsonOpt, app, command, console, settings

SERVICE = "serving.service:PayerModelService"


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
    cmd = serve_command(port, host, working_dir)
    env = {**os.environ} | ({"PAYER_WORKERS": str(workers)} if workers else {})
    n = workers or settings().workers or os.cpu_count()
    console.print(f"serving on http://{host}:{port} with {n} worker(s)", highlight=False)
    raise typer.Exit(subprocess.call(cmd, env=env))


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
