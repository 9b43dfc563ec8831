"""The live ledger from the command line: ingest, refresh, alerts, outbox, review, customer.

The ledger is ``PAYER_LEDGER_URL`` (a SQLite file under ``data/store`` by default). Commands
that rescore load the champion from the registry, as the API does.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from payer_model.cli.common import ConfigOpt, JsonOpt, PolicyOpt, app, command, console, settings

AsOfOpt = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="rescoring date [the ledger's clock]"),
]
outbox_app = typer.Typer(help="Messages due from the next actions: export or send.")
review_app = typer.Typer(help="Credit actions that wait for a person's decision.")
app.add_typer(outbox_app, name="outbox")
app.add_typer(review_app, name="review")


def _loop(config: Path | None = None, policy: Path | None = None):
    from payer_model.jobs.live import open_loop

    return open_loop(settings(), config_path=config, policy_path=policy)


def _store():
    from payer_model.adapters.ledger import LedgerStore

    return LedgerStore(settings().ledger_url)


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@app.command()
@command
def ingest(
    path: Annotated[
        Path,
        typer.Argument(
            help="events (.jsonl/.json/.csv), a folder of them, or a contract data folder"
        ),
    ],  # fmt: skip
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    policy: PolicyOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Store events in the ledger (idempotent by event id) and rescore the touched customers.

    Bad events are quarantined with their reason; the good ones are committed together.
    """
    from payer_model.jobs.live_ops import events_from_path

    loop = _loop(config, policy)
    raw, kind = events_from_path(path, loop.scorer.cfg)
    out = loop.ingest(raw, as_of=_day(as_of))
    console.print(
        f"{len(raw)} events ({kind}): {out['accepted']} accepted, {out['duplicates']} already "
        f"stored, {out['quarantined']} quarantined; {out['rescored']} customers rescored as of "
        f"{out['as_of']}, {out['alerts']} alerts, {out['cancelled_messages']} messages cancelled"
    )
    for q in out["quarantine"][:10]:
        console.print(f"  quarantined {q['event_id']}: {q['reason']}", highlight=False)
    return out


@app.command()
@command
def refresh(
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="new date")],
    config: ConfigOpt = None,
    policy: PolicyOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """The daily job: rescore every customer as of a date and plan the messages due then."""
    out = _loop(config, policy).refresh(as_of.date())
    console.print(
        f"as of {out['as_of']}: {out['rescored']} customers rescored, {out['alerts']} alerts, "
        f"{out['planned_messages']} messages planned, {out['assigned']} collectors assigned"
    )
    return out


@app.command()
@command
def alerts(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="from this day")
    ] = None,  # fmt: skip
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Risk-change alerts: one row per alert, before -> after, reasons, causing events."""
    from rich.table import Table

    from payer_model.adapters.ledger_work import list_alerts

    rows = list_alerts(_store(), since)
    table = Table("created", "customer", "as of", "what", "before", "after", "events")
    for a in rows:
        b, af = a["before"], a["after"]
        table.add_row(
            a["created_at"].isoformat(timespec="seconds"), a["customer_id"], str(a["as_of"]),
            a["kinds"], f"{b['rating']} / {b['segment']}", f"{af['rating']} / {af['segment']}",
            str(len(a["event_ids"])),
        )  # fmt: skip
    console.print(table if rows else "no alerts")
    return {"alerts": json.loads(json.dumps(rows, default=str))}


@outbox_app.command("export")
@command
def outbox_export(
    on: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="due by")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="file [standard output]")] = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """The pending messages due by a date, for mail-merge and dialer tools."""
    from payer_model.jobs.live_ops import export_outbox

    text = export_outbox(_store(), on.date(), fmt)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")
    return {"date": on.date().isoformat(), "format": fmt, "out": str(out) if out else None}


@outbox_app.command("send")
@command
def outbox_send(
    on: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="due by")],
    config: ConfigOpt = None,
    policy: PolicyOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Deliver the pending messages due by a date (PAYER_SMTP_HOST, PAYER_OUTBOX_WEBHOOK)."""
    counts = _loop(config, policy).send(on.date())
    console.print(f"{counts['sent']} sent, {counts['failed']} failed, {counts['pending']} "
                  "left pending (no route configured)")  # fmt: skip
    return counts


@review_app.command("list")
@command
def review_list(
    status: Annotated[str, typer.Option(help="pending, approved, rejected or all")] = "pending",
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Credit actions waiting for (or given) a person's decision."""
    from payer_model.adapters.ledger_work import list_reviews

    rows = list_reviews(_store(), None if status == "all" else status)
    for r in rows:
        console.print(f"#{r['id']} {r['customer_id']} {r['action']} as of {r['as_of']}: "
                      f"{r['status']}", highlight=False)  # fmt: skip
    if not rows:
        console.print("no reviews")
    return {"reviews": json.loads(json.dumps(rows, default=str))}


def _decide(review_id: int, approve: bool, by: str, why: str) -> dict[str, Any]:
    from payer_model.adapters.audit import AuditStore
    from payer_model.jobs.live_ops import decide_review

    row = decide_review(_store(), review_id, approve, by, why, AuditStore(settings().audit_db))
    console.print(f"review #{review_id} {row['status']} by {row['decided_by']}")
    return json.loads(json.dumps(row, default=str))


ById = Annotated[int, typer.Argument(help="review id (review list)")]
ByOpt = Annotated[str, typer.Option("--by", help="who decides")]
WhyOpt = Annotated[str, typer.Option("--why", help="why")]


@review_app.command("approve")
@command
def review_approve(review_id: ById, by: ByOpt, why: WhyOpt, json_out: JsonOpt = None) -> dict:
    """Approve a credit action (recorded with who, when and why, also in the audit)."""
    return _decide(review_id, True, by, why)


@review_app.command("reject")
@command
def review_reject(review_id: ById, by: ByOpt, why: WhyOpt, json_out: JsonOpt = None) -> dict:
    """Reject a credit action (recorded with who, when and why, also in the audit)."""
    return _decide(review_id, False, by, why)


@app.command()
@command
def customer(
    customer_id: Annotated[str, typer.Argument(help="customer id")],
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """A customer's current state in the ledger: rating, reasons, invoices at risk, actions."""
    from payer_model.jobs.live_ops import customer_view

    view = customer_view(_store(), customer_id)
    if view is None:
        raise KeyError(f"customer {customer_id}: not in the ledger (ingest its events first)")
    console.print(json.dumps(view, indent=2, default=str), highlight=False)
    return view


@app.command()
@command
def assign(
    customer_id: Annotated[str, typer.Argument(help="customer id")],
    collector: Annotated[str, typer.Argument(help="the collector who takes the customer")],
    by: ByOpt,
    why: WhyOpt,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Move a customer to another collector (kept by later refreshes; recorded and audited)."""
    from payer_model.adapters.audit import AuditStore
    from payer_model.jobs.live_ops import move_customer

    out = move_customer(_store(), customer_id, collector, by, why, AuditStore(settings().audit_db))
    console.print(f"{customer_id}: {out['from']} -> {out['to']}")
    return out
