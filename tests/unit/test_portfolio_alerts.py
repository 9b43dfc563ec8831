"""The portfolio page shows alerts as a table and the customers behind them as movers."""

import pandas as pd

from payer_model.monitoring.portfolio import alert_tables


def test_alerts_are_a_table_and_their_customers_a_movers_table():
    alerts = [
        {
            "type": "bad_share_up",
            "message": "bad share rose; 2 customers moved to bad",
            "value": 0.12,
            "threshold": 0.05,
            "customers": ["C1", "C2"],
        },
        {
            "type": "two_class_drop",
            "message": "1 customer moved two classes: C3 (late)",
            "value": 0.01,
            "threshold": 0.0,
            "customers": ["C3"],
        },
    ]
    movers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C9"],
            "from": ["good"] * 4,
            "to": ["bad"] * 4,
            "steps": [2, 1, 2, 2],
            "open_amt": [10.0, 5.0, 7.0, 1.0],
            "reason": ["r"] * 4,
        }
    )
    alert_html, movers_html = alert_tables(alerts, movers)
    assert alert_html.count("<tr>") == 3 and 'id="alerts"' in alert_html
    assert "C3 (late)" not in alert_html  # ids go to the movers table, not into a paragraph
    assert movers_html.count("<tr>") == 4 and "C9" not in movers_html
    assert movers_html.index("C1") < movers_html.index("C3") < movers_html.index("C2")
    assert alert_tables([], movers) == ("<p>no alert</p>", "<p>no mover</p>")
