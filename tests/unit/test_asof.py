"""The open-at-T rule exists once; its scalar, frame and SQL forms agree on every case."""

from datetime import date, timedelta

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from payer_model.features.asof import is_open_at, open_at_sql, open_mask

T = date(2024, 6, 1)
COLS = ["invoice_date", "paid_date", "written_off_date"]
days = st.integers(-40, 40).map(lambda d: T + timedelta(days=d))
maybe = st.none() | days


def _sql_form(frame: pd.DataFrame) -> list[bool]:
    con = duckdb.connect()
    con.register("f", frame)
    pred = open_at_sql("i", f"DATE '{T.isoformat()}'")
    rows = con.execute(
        "SELECT " + pred + " FROM (SELECT CAST(invoice_date AS DATE) AS invoice_date, "
        "CAST(paid_date AS DATE) AS paid_date, CAST(written_off_date AS DATE) "
        "AS written_off_date FROM f) i"
    ).fetchall()
    return [bool(r[0]) for r in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(days, maybe, maybe), min_size=1, max_size=30))
def test_scalar_frame_and_sql_forms_agree(rows):
    frame = pd.DataFrame(rows, columns=COLS).astype("datetime64[us]")
    scalar = [is_open_at(i, p, w, T) for i, p, w in rows]
    assert open_mask(frame, T).tolist() == scalar
    assert _sql_form(frame) == scalar


def test_the_rule_on_its_edge_cases():
    cases = [
        ((T - timedelta(days=5), None, None), True),
        ((T - timedelta(days=5), T, None), True),  # paid on T: still open at T
        ((T - timedelta(days=5), T - timedelta(days=1), None), False),
        ((T - timedelta(days=5), None, T - timedelta(days=1)), False),  # written off before T
        ((T, None, None), False),  # issued on T: unknown at T
    ]
    assert [is_open_at(*r, T) for r, _ in cases] == [want for _, want in cases]
