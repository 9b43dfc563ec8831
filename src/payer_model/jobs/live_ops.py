"""Read and people-side jobs of the live ledger; none of them needs the model.

Event sources, the customer view, outbox export, review decisions, collector assignment.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from payer_model.adapters import ledger_work as work
from payer_model.adapters.ledger import LedgerStore
from payer_model.data.io import find_table_files

EVENT_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv")
EXPORT_FIELDS = ("message_id", "customer_id", "invoice_ids", "channel", "tone", "due_date",
                 "status", "policy_version", "text")  # fmt: skip


def events_from_path(path: str | Path, cfg: Any = None) -> tuple[list[dict[str, Any]], str]:
    """Raw events of a file, a folder of event files, or a contract folder (converted).

    A folder holding an ``invoices`` table is a contract folder: its validated tables are
    converted to events (:func:`payer_model.live.convert.events_from_tables`). Otherwise
    every ``.jsonl`` / ``.json`` / ``.csv`` file in it is read, in name order.

    Returns:
        The raw events and what they were read as (``events`` or ``contract``).

    Raises:
        FileNotFoundError: the path does not exist or holds no event file.
    """
    from payer_model.live.convert import events_from_tables, read_event_file

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if p.is_file():
        return read_event_file(p), "events"
    files, _ = find_table_files(p)
    if "invoices" in files:
        from payer_model.jobs.inputs import load_tables, load_training_config

        cfg = cfg or load_training_config(None)[0]
        return events_from_tables(load_tables(p, cfg).tables), "contract"
    found = sorted(f for f in p.iterdir() if f.suffix.lower() in EVENT_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"{p}: no event files (.jsonl, .json, .csv) and no invoices table")
    out: list[dict[str, Any]] = []
    for f in found:
        out += read_event_file(f)
    return out, "events"


def customer_view(store: LedgerStore, customer_id: str) -> dict[str, Any] | None:
    """A customer's current state: rating, reasons, segment, invoices at risk, next actions.

    Returns:
        None when the ledger has no state for the customer.
    """
    state = work.load_states(store, [customer_id]).get(customer_id)
    if state is None:
        return None
    decision = state["decision"] or {}
    return {
        "customer_id": customer_id,
        "as_of": state["as_of"].isoformat(),
        "rating": state["rating"],
        "p_good": state["p_good"],
        "p_average": state["p_average"],
        "p_bad": state["p_bad"],
        "score": state["score"],
        "reasons": state["reasons"],
        "segment": state["segment"],
        "invoices_at_risk": invoices_at_risk(
            store.rows([customer_id]), state["as_of"], decision.get("stopped") or {}
        ),
        "next_actions": decision.get("next_actions", []),
        "credit": decision.get("credit"),
        "priority": decision.get("priority"),
        "collector": work.collector_of(store, customer_id),
        "model_version": state["model_version"],
        "policy_version": state["policy_version"],
        "updated_at": state["updated_at"].isoformat(timespec="seconds"),
    }


def invoices_at_risk(
    rows: dict[str, list[dict[str, Any]]], as_of: date, stopped: dict[str, str]
) -> list[dict[str, Any]]:
    """Invoices open at ``as_of`` (the one as-of rule), net of payments received before it.

    Rows are the ledger rows of one customer; credit notes are left out. Each invoice comes
    with its days overdue and why its reminders stopped (paid, disputed, promised), if so.
    """
    from payer_model.features.asof import is_open_at, known_at

    paid: dict[str, float] = {}
    for p in rows.get("payments", ()):
        if known_at(p["payment_date"], as_of):
            paid[p["invoice_id"]] = paid.get(p["invoice_id"], 0.0) + float(p["amount"])
    out = []
    for r in sorted(rows.get("invoices", ()), key=lambda r: (r["due_date"], r["invoice_id"])):
        if r["document_type"] == "credit_note" or not is_open_at(
            r["invoice_date"], r["paid_date"], r["written_off_date"], as_of
        ):
            continue
        out.append(
            {
                "invoice_id": r["invoice_id"],
                "due_date": r["due_date"].isoformat(),
                "open_amount": round(float(r["amount"]) - paid.get(r["invoice_id"], 0.0), 2),
                "days_overdue": max((as_of - r["due_date"]).days, 0),
                "stopped": stopped.get(r["invoice_id"]),
            }
        )
    return out


def export_outbox(
    store: LedgerStore, on: date, fmt: str = "csv", status: str | None = "pending"
) -> str:
    """The outbox messages due on or before ``on`` as CSV or JSON text (mail-merge, dialers).

    Raises:
        ValueError: an unknown format.
    """
    rows = [
        {k: m[k] for k in EXPORT_FIELDS}
        for m in work.list_messages(store, due_on=on, status=status)
    ]
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str)
    if fmt != "csv":
        raise ValueError(f"--format must be csv or json, got {fmt!r}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(EXPORT_FIELDS))
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "invoice_ids": ";".join(r["invoice_ids"])})
    return buf.getvalue()


def decide_review(
    store: LedgerStore, review_id: int, approve: bool, who: str, why: str, audit: Any = None
) -> dict[str, Any]:
    """Approve or reject a pending credit action; who, when and why go to the audit too.

    Raises:
        ValueError: no pending review with that id, or no name / reason given.
    """
    if not who.strip() or not why.strip():
        raise ValueError("a review decision needs who decided (--by) and why (--why)")
    status = "approved" if approve else "rejected"
    row = work.decide_review(store, review_id, status, who.strip(), why.strip())
    if row is None:
        raise ValueError(f"review {review_id}: no pending review with that id")
    if audit is not None:
        audit.record_decisions(
            [{"customer_id": row["customer_id"], "as_of": str(row["as_of"]),
              "reasons": [f"credit action {row['action']} {status} by a person"],
              "payload": {"review_id": row["id"], "action": row["action"], "status": status,
                          "decided_by": row["decided_by"], "why": row["why"],
                          "decided_at": row["decided_at"]}}],
            source="review",
        )  # fmt: skip
    return {**row, "decided_at": row["decided_at"].isoformat(timespec="seconds")}


def assign_collectors(
    store: LedgerStore, collectors: Sequence[str], capacity: int
) -> dict[str, str]:
    """Give each unassigned customer a collector; existing assignments stay (stable).

    The customer goes to the collector with the fewest customers still under ``capacity``
    (ties by name); beyond every collector's capacity customers stay unassigned.

    Returns:
        The new assignments (customer -> collector), recorded with the rule as reason.
    """
    if not collectors:
        return {}
    current = work.assignments(store)
    load = {c: 0 for c in collectors}
    for who in current.values():
        if who in load:
            load[who] += 1
    moves: dict[str, str] = {}
    states = work.load_states(store)
    ranked = sorted(
        (cid for cid in states if cid not in current),
        key=lambda c: -float((states[c]["decision"] or {}).get("priority") or 0.0),
    )
    for cid in ranked:
        free = [c for c in sorted(load) if load[c] < capacity]
        if not free:
            break
        pick = min(free, key=lambda c: load[c])
        moves[cid] = pick
        load[pick] += 1
    work.assign(store, moves, f"rule: fewest customers under capacity {capacity}")
    return moves


def move_customer(
    store: LedgerStore, customer_id: str, collector: str, who: str, why: str, audit: Any = None
) -> dict[str, Any]:
    """A person moves a customer to another collector; recorded with who and why.

    Raises:
        ValueError: no name, reason or collector given, or the customer is not in the ledger.
    """
    if not (who.strip() and why.strip() and collector.strip()):
        raise ValueError("a move needs the collector, who moves (--by) and why (--why)")
    if not work.load_states(store, [customer_id]):
        raise ValueError(f"customer {customer_id}: not in the ledger")
    before = work.collector_of(store, customer_id)
    work.assign(store, {customer_id: collector.strip()}, f"moved by {who.strip()}: {why.strip()}")
    if audit is not None:
        audit.record_decisions(
            [{"customer_id": customer_id, "as_of": date.today().isoformat(),
              "reasons": [f"collector {before} -> {collector.strip()} by a person"],
              "payload": {"from": before, "to": collector.strip(), "by": who.strip(),
                          "why": why.strip()}}],
            source="assignment",
        )  # fmt: skip
    return {"customer_id": customer_id, "from": before, "to": collector.strip()}
