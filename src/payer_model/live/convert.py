"""Events from files: JSON lines, CSV, or a contract folder converted to the events it implies.

:func:`events_from_tables` turns validated contract tables into the event stream that folds
back into the same tables (:mod:`payer_model.live.fold`): a customer registration per
customer, an ``invoice_issued`` per invoice, a payment flagged ``full`` on each paid date,
one payment per payments row, a ``reminder_sent`` (and its outcome) per reminders row, a
dispute outcome and a write-off where the invoice has one. Event ids derive from the rows,
so converting the same folder twice gives the same ids (a second ingest changes nothing).
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from payer_model.live.events import OUTCOMES

EPOCH = date(1900, 1, 1)
"""Date of a customer registration without a created date (it only orders registrations)."""


def _day(v: Any) -> str | None:
    if v is None:
        return None
    try:
        import pandas as pd

        if pd.isna(v):
            return None
        return pd.Timestamp(v).date().isoformat()
    except (TypeError, ValueError):
        return str(v)


def _value(v: Any) -> Any:
    try:
        import pandas as pd

        if v is None or pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    return v.item() if hasattr(v, "item") else v


def _records(df: Any) -> list[dict[str, Any]]:
    if df is None or not len(df):
        return []
    return df.to_dict("records")


def _customer_events(customers: Any) -> Iterator[dict[str, Any]]:
    for r in _records(customers):
        ev = {
            "event_id": f"cust:{r['customer_id']}",
            "type": "customer_registered",
            "customer_id": str(r["customer_id"]),
            "date": _day(r.get("created_date")) or EPOCH.isoformat(),
            "customer_type": _value(r.get("customer_type")),
            "industry": _value(r.get("industry")),
            "country": _value(r.get("country")),
            "payment_terms_days": _value(r.get("payment_terms_days")),
            "credit_limit": _value(r.get("credit_limit")),
            "created_date": _day(r.get("created_date")),
            "contact_email": _value(r.get("email")),
        }
        if ev["payment_terms_days"] is not None:
            ev["payment_terms_days"] = int(ev["payment_terms_days"])
        yield {k: v for k, v in ev.items() if v is not None}


def _invoice_events(r: Mapping[str, Any], paid_before: float) -> Iterator[dict[str, Any]]:
    iid, cid = str(r["invoice_id"]), str(r["customer_id"])
    issued = {
        "event_id": f"inv:{iid}",
        "type": "invoice_issued",
        "customer_id": cid,
        "invoice_id": iid,
        "invoice_date": _day(r["invoice_date"]),
        "due_date": _day(r["due_date"]),
        "amount": float(r["amount"]),
        "document_type": _value(r.get("document_type")),
        "currency": _value(r.get("currency")),
    }
    yield {k: v for k, v in issued.items() if v is not None}
    base = {"customer_id": cid, "invoice_id": iid}
    if (paid := _day(r.get("paid_date"))) is not None:
        rest = round(max(float(r["amount"]) - paid_before, 0.01), 2)
        yield {
            "event_id": f"paid:{iid}",
            "type": "payment_received",
            "customer_id": cid,
            "payment_date": paid,
            "allocations": [{"invoice_id": iid, "amount": rest, "full": True}],
        }
    if (disputed := _day(r.get("dispute_date"))) is not None:
        ev = {**base, "type": "reminder_outcome", "date": disputed}
        yield {**ev, "event_id": f"dsp:{iid}", "outcome": "dispute_opened"}
        if not bool(_value(r.get("disputed"))):
            yield {**ev, "event_id": f"dsr:{iid}", "outcome": "dispute_resolved"}
    if (wo := _day(r.get("written_off_date"))) is not None:
        yield {**base, "event_id": f"wo:{iid}", "type": "write_off", "date": wo}


def _payment_events(payments: Any, owner: dict[str, str]) -> Iterator[dict[str, Any]]:
    for k, r in enumerate(_records(payments)):
        iid = str(r["invoice_id"])
        pid = _value(r.get("payment_id")) or f"row{k + 1}"
        yield {
            "event_id": f"pay:{pid}",
            "type": "payment_received",
            "customer_id": owner.get(iid, str(r.get("customer_id"))),
            "payment_id": str(pid),
            "payment_date": _day(r["payment_date"]),
            "allocations": [{"invoice_id": iid, "amount": float(r["amount"])}],
        }


def _reminder_events(reminders: Any, owner: dict[str, str]) -> Iterator[dict[str, Any]]:
    for k, r in enumerate(_records(reminders)):
        iid = str(r["invoice_id"])
        rid = f"rem:{k + 1}:{iid}"
        sent = _day(r["sent_date"])
        base = {"customer_id": owner.get(iid, str(r.get("customer_id"))), "invoice_id": iid}
        yield {
            **base,
            "event_id": rid,
            "type": "reminder_sent",
            "sent_date": sent,
            "channel": str(r["channel"]),
            "reminder_id": rid,
        }
        outcome = _value(r.get("outcome"))
        if outcome in OUTCOMES:
            ev = {**base, "event_id": f"out:{k + 1}:{iid}", "type": "reminder_outcome"}
            ev |= {"date": sent, "outcome": outcome, "reminder_id": rid}
            if outcome == "promise_to_pay":
                ev["promise_date"] = sent
            yield ev


def events_from_tables(tables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The event stream (raw dicts, as a file would hold them) of validated contract tables.

    Args:
        tables: ``customers``, ``invoices``, ``payments``, ``reminders`` frames (the output
            of :func:`payer_model.data.contract.load_dataset`).

    Returns:
        Raw events in table order (callers may shuffle them: the fold does not care).
    """
    inv = tables["invoices"]
    owner = dict(zip(inv["invoice_id"].astype(str), inv["customer_id"].astype(str), strict=True))
    paid_dates = dict(zip(inv["invoice_id"].astype(str), inv["paid_date"], strict=True))
    partial: dict[str, float] = {}
    pay = tables.get("payments")
    for r in _records(pay):  # partial payments made before the paid date
        iid = str(r["invoice_id"])
        pd_ = paid_dates.get(iid)
        if _day(pd_) is not None and _day(r["payment_date"]) < _day(pd_):
            partial[iid] = partial.get(iid, 0.0) + float(r["amount"])
    out = list(_customer_events(tables.get("customers")))
    for r in _records(inv):
        out.extend(_invoice_events(r, partial.get(str(r["invoice_id"]), 0.0)))
    out.extend(_payment_events(pay, owner))
    out.extend(_reminder_events(tables.get("reminders"), owner))
    return out


_JSON_COLUMNS = ("allocations",)


def _csv_event(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a raw event: empty cells dropped, a payment's single allocation built."""
    ev: dict[str, Any] = {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
    for col in _JSON_COLUMNS:
        if col in ev:
            with contextlib.suppress(json.JSONDecodeError):  # else validation names it
                ev[col] = json.loads(ev[col])
    if ev.get("type") == "payment_received" and "allocations" not in ev and "invoice_id" in ev:
        alloc = {"invoice_id": ev.pop("invoice_id"), "amount": ev.pop("amount", None)}
        if "full" in ev:
            alloc["full"] = ev.pop("full")
        ev["allocations"] = [alloc]
    return ev


def read_event_file(path: str | Path) -> list[dict[str, Any]]:
    """Raw events of a ``.jsonl`` / ``.json`` (a list or one event a line) or ``.csv`` file.

    A line that is not JSON becomes an event without a type (quarantined with its reason).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [_csv_event(r) for r in csv.DictReader(text.splitlines())]
    stripped = text.lstrip()
    if stripped.startswith("["):
        return list(json.loads(stripped))
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            out.append({"event_id": f"{path.name}:{n}", "_error": f"line {n}: {exc.msg}"})
    return out
