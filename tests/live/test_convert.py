"""Event files (JSON lines, JSON, CSV) read into raw events; bad lines become quarantinable."""

from __future__ import annotations

import json

from payer_model.live.convert import read_event_file
from payer_model.live.events import parse_event


def test_csv_jsonl_and_json_events(tmp_path):
    csv_file = tmp_path / "events.csv"
    csv_file.write_text(
        "event_id,type,customer_id,invoice_id,invoice_date,due_date,amount,payment_date,full\n"
        "e1,invoice_issued,C1,I1,2025-01-01,2025-01-31,100,,\n"
        "e2,payment_received,C1,I1,,,100,2025-02-03,true\n"
    )
    issued, paid = (parse_event(e)[0] for e in read_event_file(csv_file))
    assert issued.amount == 100.0 and issued.due_date.isoformat() == "2025-01-31"
    assert paid.allocations[0].invoice_id == "I1" and paid.allocations[0].full

    lines = tmp_path / "events.jsonl"
    lines.write_text(
        json.dumps(
            {
                "event_id": "w",
                "type": "write_off",
                "customer_id": "C1",
                "invoice_id": "I1",
                "date": "2025-05-01",
            }
        )
        + "\n{oops\n\n"
    )
    good, bad = read_event_file(lines)
    assert parse_event(good)[0].type == "write_off"
    event, reason = parse_event(bad)
    assert event is None and reason.startswith("invalid_event: line 2")

    listed = tmp_path / "events.json"
    listed.write_text(json.dumps([{"event_id": "x", "type": "nope", "customer_id": "C1"}]))
    (raw,) = read_event_file(listed)
    assert parse_event(raw)[1].startswith("unknown_event_type")
