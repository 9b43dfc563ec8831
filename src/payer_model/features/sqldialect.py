"""One feature SQL, two engines: render the shared template for DuckDB or Spark SQL.

The feature and label definitions are written once (``features._SQL``, ``labels._SQL``) in
the common subset of DuckDB and Spark SQL (``FILTER``, ``GROUP BY ALL``, named windows,
``USING`` joins, ``date +/- integer``). The few constructs the two dialects spell
differently are written as macros and expanded here:

* ``DDIFF(a, b)``: days from date ``b`` to date ``a`` (``a - b`` / ``datediff(a, b)``);
* ``QCONT(x, p)``: exact interpolated quantile (``quantile_cont`` / ``percentile``);
* ``TS(x)``: a date as a zone-less timestamp (``TIMESTAMP`` / ``TIMESTAMP_NTZ``);
* ``ASOF_CUT(d)``: join each event to the first cutoff that sees it (``d < t``). DuckDB
  uses its ``ASOF JOIN``; Spark joins on the half-open interval ``[t_prev, t)`` of the small
  (broadcast) cutoffs table, which gives the same single match. With one cutoff (scoring)
  both become the filter ``d < t`` (``one_cutoff=True``);
* ``CUMSUM/CUMMAX/CUMMIN(x)``: running aggregate over the cutoffs (``OVER w``), the value
  itself with one cutoff; ``LAST5_JOIN(cond)``: a condition only the multi-cutoff plan needs
  (``FALSE`` with one cutoff).

No other rewriting happens, so a feature change is one edit that both engines pick up.
"""

from __future__ import annotations

import re
from collections.abc import Callable

DIALECTS: tuple[str, ...] = ("duckdb", "spark")


def _over_cutoffs(agg: str) -> Callable[[str], str]:
    return lambda x: f"{agg}({x}) OVER w"


# running aggregates over the cutoffs (window ``w``, defined by the query)
_RUNNING = {
    "CUMSUM": _over_cutoffs("sum"),
    "CUMMAX": _over_cutoffs("max"),
    "CUMMIN": _over_cutoffs("min"),
}

_MACROS: dict[str, dict[str, Callable[..., str]]] = {
    "duckdb": {
        "DDIFF": lambda a, b: f"({a} - {b})",
        "QCONT": lambda x, p: f"quantile_cont({x}, {p})",
        "TS": lambda x: f"CAST({x} AS TIMESTAMP)",
        "ASOF_CUT": lambda d: f"ASOF JOIN cut c ON {d} < c.t",
        **_RUNNING,
        "LAST5_JOIN": lambda cond: cond,
    },
    "spark": {
        "DDIFF": lambda a, b: f"datediff({a}, {b})",
        "QCONT": lambda x, p: f"percentile({x}, {p})",
        "TS": lambda x: f"CAST({x} AS TIMESTAMP_NTZ)",
        "ASOF_CUT": lambda d: f"JOIN cut c ON {d} >= c.t_prev AND {d} < c.t",
        **_RUNNING,
        "LAST5_JOIN": lambda cond: cond,
    },
}
# One cutoff: each event is seen by that cutoff or not at all, so the ASOF join is a
# filter, a running total over cutoffs is the value itself, and the join for the last five
# payments at earlier cutoffs has nothing to do (a constant FALSE the planner prunes).
_ONE_CUTOFF: dict[str, Callable[..., str]] = {
    "ASOF_CUT": lambda d: f"JOIN cut c ON {d} < c.t",
    "CUMSUM": lambda x: x,
    "CUMMAX": lambda x: x,
    "CUMMIN": lambda x: x,
    "LAST5_JOIN": lambda cond: "FALSE",
}
_CALL = re.compile(r"\b(DDIFF|QCONT|TS|ASOF_CUT|CUMSUM|CUMMAX|CUMMIN|LAST5_JOIN)\(")


def _split_args(body: str) -> list[str]:
    args, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(body[start:i].strip())
            start = i + 1
    args.append(body[start:].strip())
    return args


def render(sql: str, dialect: str, *, one_cutoff: bool = False) -> str:
    """Expand the dialect macros of a shared SQL template.

    Args:
        sql: template text (already ``str.format``-ed with its parameters).
        dialect: ``"duckdb"`` or ``"spark"``.
        one_cutoff: the query runs for a single cutoff (scoring): ``ASOF_CUT(d)`` becomes
            the plain filter ``d < t`` against that cutoff, which selects the same rows as
            the ASOF join (the first cutoff that sees ``d`` is the only one) without its
            sort.

    Returns:
        SQL for that engine.

    Raises:
        ValueError: unknown dialect or unbalanced macro call.
    """
    if dialect not in _MACROS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}")
    macros = _MACROS[dialect]
    if one_cutoff:
        macros = {**macros, **_ONE_CUTOFF}
    out: list[str] = []
    pos = 0
    while m := _CALL.search(sql, pos):
        depth, i = 1, m.end()
        while depth and i < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        if depth:
            raise ValueError(f"unbalanced macro call at: {sql[m.start() : m.start() + 60]!r}")
        body = _split_args(sql[m.end() : i - 1])
        args = [render(a, dialect, one_cutoff=one_cutoff) for a in body]
        out.append(sql[pos : m.start()])
        out.append(macros[m.group(1)](*args))
        pos = i
    out.append(sql[pos:])
    return "".join(out)
