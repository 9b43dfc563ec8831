"""Model card and figures of the invoice model (pure: returns text and matplotlib figures)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _f(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def invoice_model_card(metrics: dict[str, Any], *, name: str, version: str, cfg: Any) -> str:
    """Markdown model card of the invoice model: use, targets, method, metrics, gate."""
    ic = cfg.invoice
    mod, base = metrics["model"], metrics["baselines"]
    win = metrics["windows"]
    fc = metrics.get("forecast", {}).get("mean", {})

    def brow(label: str, m: dict[str, Any]) -> str:
        return (
            f"| {label} | {_f(m.get('accuracy'))} | {_f(m.get('auc'))} | {_f(m.get('brier'))} "
            f"| {_f(m.get('ece'))} |"
        )

    bands = "\n".join(
        f"| {b['band']} | {b['invoices']} | {_f(b['mean_p_late'], True)} | "
        f"{_f(b['realised_late_share'], True)} |"
        for b in metrics.get("bands", [])
    )
    checks = "\n".join(f"- {c}" for c in metrics.get("gate", {}).get("checks", []))
    low, high = ic.band_thresholds
    return f"""# Model card: {name} version {version}

## Intended use
For every invoice open at a date T (or issued on T): the probability that it is paid more than
{ic.late_tolerance_days} days after its due date (P(late)), the probability it is paid more than
{ic.very_late_days} days late, the expected payment date with an {ic.interval:.0%} interval, and a
band (Low < {low:.0%} ≤ Medium ≤ {high:.0%} < High). Used to prioritise collectors' work, to
choose pre-due reminders and to forecast cash for 13 weeks. A decision aid, not a credit
decision.

## Data and window (same cutoffs and embargo as the customer rating)
- Training cutoffs: {", ".join(win["train"])}; validation: {", ".join(win["val"])};
  out-of-time test: {", ".join(win["test"])}
- Invoice snapshots: {win["rows"]["train"]} train, {win["rows"]["val"]} validation,
  {win["rows"]["test"]} test; {_f(win["censored_share_train"], True)} of training rows
  still unpaid at the end of observation (right-censored).

## Targets
Observed until E = T + H + G. Paid before E: days late = paid date − due date. Unpaid at E:
late when E is already past the threshold, otherwise left out of that target; for the pay
date the days from T are **right-censored** at E − T.

## Method and why
Features: the customer's as-of features (joined, the same as the rating model's) plus the
invoice's amount relative to the customer's mean, terms, age, days to / past due, reminders
and disputes on it before T, its rank among the customer's open items and partial payments.
P(late) and P(>{ic.very_late_days} days): XGBoost binary boosters calibrated on the time-later
validation slice (isotonic or sigmoid, chosen by cross-fitted log loss). Pay date: XGBoost
`survival:aft` gives the location of log(days to pay) from the censored likelihood, so still
open invoices count as "at least this long" instead of being dropped (which biases towards
quick payers) or treated as paid; the shape of the distribution is the Kaplan-Meier estimate
of the validation residuals, so the interval is calibrated out of sample instead of assuming a
normal error. The expected date is the median (minimises absolute error in days).

## Out-of-time metrics (test cutoffs)
| P(late) | accuracy | AUC | Brier | ECE |
|---|---|---|---|---|
{brow("model", mod["late"])}
{brow("customer late share", base["late_share"]["late"])}

| P(>{ic.very_late_days} days late) | accuracy | AUC | Brier | ECE |
|---|---|---|---|---|
{brow("model", mod["very_late"])}
{brow("customer late share", base["late_share"]["very_late"])}

| pay date | MAE days | median AE days | {ic.interval:.0%} interval coverage |
|---|---|---|---|
| model | {_f(mod["date"]["mae_days"])} | {_f(mod["date"]["median_ae_days"])} | \
{_f(mod["date"].get("coverage"), True)} |
| due date + customer mean days late | {_f(base["customer_mean"]["date"]["mae_days"])} | \
{_f(base["customer_mean"]["date"]["median_ae_days"])} | n/a |

## Bands (test)
| band | invoices | mean P(late) | realised late share |
|---|---|---|---|
{bands}

## 13-week cash forecast (backtest over the test cutoffs, WAPE)
model {_f(fc.get("wape_model"))}, due-date forecast {_f(fc.get("wape_due_date"))},
customer-mean forecast {_f(fc.get("wape_customer_mean"))}. Invoices not yet issued at T are
not forecast (the actuals are the collections of the book open at T).

## Promotion gate
{checks}

## Known limits
- Customers without history get the portfolio-level behaviour through their features only.
- Payments after a write-off and partial payments after T are not modelled separately: an
  invoice counts as collected on its paid date.
- Re-validate after changes in terms or dunning policy (reminders are both a feature and an
  action the predictions drive).
"""


def reliability_figure(y: np.ndarray, probas: dict[str, np.ndarray], bins: int = 10):
    """Reliability curve of P(late) for the model and the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    edges = np.linspace(0, 1, bins + 1)
    for label, p in probas.items():
        idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        xs = [p[idx == b].mean() for b in range(bins) if (idx == b).any()]
        ys = [y[idx == b].mean() for b in range(bins) if (idx == b).any()]
        ax.plot(xs, ys, "o-", label=label)
    ax.set(xlabel="predicted P(late)", ylabel="realised late share", title="P(late) calibration")
    ax.legend()
    fig.tight_layout()
    return fig


def forecast_figure(table: pd.DataFrame, title: str = "13-week cash forecast"):
    """Weekly expected collections: model, due-date and customer-mean (and actual if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for col, style in (
        ("model", "o-"),
        ("due_date", "s--"),
        ("customer_mean", "^--"),
        ("actual", "k-"),
    ):
        if col in table.columns:
            ax.plot(table["week_start"], table[col], style, label=col.replace("_", " "))
    ax.set(xlabel="week starting", ylabel="collections", title=title)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
