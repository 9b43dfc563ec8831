"""Static portfolio page (one self-contained HTML file per as-of date, no server, no CDN).

Charts are inline SVG drawn here; a few lines of inline JavaScript add hover titles and set
``data-rendered="ok"`` on ``<body>`` once every chart has shapes, which the browser test
checks.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

PALETTE = ("#2e7d32", "#f9a825", "#c62828", "#1565c0", "#6a1b9a", "#00838f", "#8d6e63", "#546e7a")


def _esc(x: Any) -> str:
    return html.escape(str(x))


def segment_mix_svg(history: pd.DataFrame, width: int = 720, height: int = 260) -> str:
    """Stacked bars: share of customers per segment at each as-of date."""
    if history.empty:
        return '<svg class="chart" id="mix"></svg>'
    pivot = history.pivot_table(
        index="as_of", columns="segment", values="customers", aggfunc="sum", fill_value=0
    ).sort_index()
    shares = pivot.div(pivot.sum(axis=1), axis=0)
    segs = list(shares.columns)
    left, bottom, legend_w = 40, 40, 200
    plot_w, plot_h = width - left - legend_w, height - bottom - 10
    bw = plot_w / len(shares) * 0.8
    parts = [
        f'<svg class="chart" id="mix" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for k, (date, row) in enumerate(shares.iterrows()):
        x = left + k * plot_w / len(shares)
        y = 10.0
        for j, seg in enumerate(segs):
            h = float(row[seg]) * plot_h
            if h > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[j % len(PALETTE)]}" data-tip="{_esc(seg)} {date}: '
                    f'{row[seg]:.1%}"/>'
                )
            y += h
        parts.append(
            f'<text x="{x + bw / 2:.1f}" y="{height - bottom + 15}" font-size="10" '
            f'text-anchor="middle">{_esc(date[:7])}</text>'
        )
    for j, seg in enumerate(segs):
        y = 15 + j * 18
        parts.append(
            f'<rect x="{width - legend_w + 10}" y="{y}" width="12" height="12" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{width - legend_w + 28}" '
            f'y="{y + 10}" font-size="11">{_esc(seg)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap_svg(matrix: pd.DataFrame, cell: int = 70) -> str:
    """Migration heatmap: reference rating (rows) x current rating (columns), counts."""
    n_r, n_c = matrix.shape
    left, top = 80, 40
    width, height = left + n_c * cell + 10, top + n_r * cell + 10
    vmax = max(float(matrix.to_numpy().max()), 1.0)
    parts = [
        f'<svg class="chart" id="heatmap" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for j, col in enumerate(matrix.columns):
        parts.append(
            f'<text x="{left + j * cell + cell / 2}" y="{top - 8}" font-size="11" '
            f'text-anchor="middle">{_esc(col)}</text>'
        )
    for i, (name, row) in enumerate(matrix.iterrows()):
        y = top + i * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4}" font-size="11" '
            f'text-anchor="end">{_esc(name)}</text>'
        )
        for j, v in enumerate(row):
            a = 0.08 + 0.92 * float(v) / vmax
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgba(198,40,40,{a:.2f})" data-tip="{_esc(name)} -> '
                f'{_esc(matrix.columns[j])}: {int(v)}"/>'
                f'<text x="{left + j * cell + cell / 2}" y="{y + cell / 2 + 4}" font-size="12" '
                f'text-anchor="middle">{int(v)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            txt = f"{v:,.2f}" if isinstance(v, float) else str(v)
            cells.append(f"<td>{_esc('' if txt == 'nan' else txt)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


_SCRIPT = """
(function () {
  var charts = document.querySelectorAll('svg.chart');
  var ok = charts.length > 0;
  charts.forEach(function (svg) {
    var shapes = svg.querySelectorAll('rect');
    if (shapes.length === 0) { ok = false; }
    shapes.forEach(function (r) {
      var tip = r.getAttribute('data-tip');
      if (tip) {
        var t = document.createElementNS('http://www.w3.org/2000/svg', 'title');
        t.textContent = tip; r.appendChild(t);
      }
    });
  });
  document.body.setAttribute('data-rendered', ok ? 'ok' : 'empty');
  document.body.setAttribute('data-charts', String(charts.length));
})();
"""

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ddd;padding:3px 6px}
th{background:#f3f3f3} td{text-align:right} .alert{color:#b71c1c}
"""


def _short(text: str, limit: int = 320) -> str:
    """Alert text cut for the page (the full text is in alerts.jsonl)."""
    return text if len(text) <= limit else text[:limit].rsplit(";", 1)[0] + "; ... (alerts.jsonl)"


MOVERS_SHOWN = 50


def alert_tables(alerts: list[dict[str, Any]], movers: pd.DataFrame | None) -> tuple[str, str]:
    """HTML of the alerts table and of the movers table of the customers the alerts name."""
    if not alerts:
        return "<p>no alert</p>", "<p>no mover</p>"
    rows = pd.DataFrame(
        {
            "alert": [a["type"] for a in alerts],
            "value": [a.get("value") for a in alerts],
            "threshold": [a.get("threshold") for a in alerts],
            "customers": [len(a.get("customers") or []) for a in alerts],
            "message": [_short(a["message"].split(": ")[0], 160) for a in alerts],
        }
    )
    named = {c for a in alerts for c in a.get("customers") or []}
    if movers is None or not len(movers) or not named:
        return _table(rows, "alerts"), "<p>no mover</p>"
    shown = movers[movers["customer_id"].astype(str).isin(named)]
    shown = shown.sort_values([c for c in ("steps", "open_amt") if c in shown], ascending=False)
    return _table(rows, "alerts"), _table(shown.head(MOVERS_SHOWN), "movers")


def render_portfolio(
    path: str | Path,
    *,
    as_of: pd.Timestamp,
    history: pd.DataFrame,
    migration: pd.DataFrame,
    kpis: pd.DataFrame,
    worklist: pd.DataFrame,
    alerts: list[dict[str, Any]],
    movers: pd.DataFrame | None = None,
) -> Path:
    """Write the portfolio page; returns its path.

    Alerts are a table (one row per alert); the customers behind them are a movers table
    (``movers``: ``customer_id``, ``from``, ``to``, ``reason``... as
    :func:`payer_model.monitoring.migration.movers` gives), not a paragraph of ids.
    """
    latest = kpis[kpis["month"] == kpis["month"].max()] if len(kpis) else kpis
    alert_html, movers_html = alert_tables(alerts, movers)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portfolio {as_of.date()}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Payer portfolio as of {as_of.date()}</h1>
<h2>Alerts</h2>{alert_html}
<h2>Movers behind the alerts</h2>{movers_html}
<h2>Segment mix over time (share of customers)</h2>{segment_mix_svg(history)}
<h2>Rating migration (customers, reference rows, current columns)</h2>{heatmap_svg(migration)}
<h2>Collections KPIs by segment, {latest["month"].max() if len(latest) else ""}</h2>
{_table(latest.round(3), "kpis")}
<h2>Top worklist</h2>{_table(worklist, "worklist")}
<script>{_SCRIPT}</script>
</body></html>
"""
    p = Path(path)
    p.write_text(page, encoding="utf-8")
    return p
