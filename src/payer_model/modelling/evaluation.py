"""Backtests, bootstrap intervals and the model card (DESIGN §4).

Pure pandas/numpy: no MLflow here; the training job logs what this returns. The reliability
curves are drawn by :func:`payer_model.modelling.plots.reliability`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import NATURAL_PERSON_TYPES, RATINGS
from payer_model.modelling.metrics import classification_metrics

LABEL_INDEX = {r: i for i, r in enumerate(RATINGS)}


def backtest(test: pd.DataFrame, predicted: np.ndarray) -> dict[str, Any]:
    """What each predicted rating meant in the next horizon, on out-of-time snapshots.

    Returns:
        ``by_rating``: per predicted rating the customers, invoices, realised share of invoices
        paid late, amount-weighted mean days late, share of the amount unpaid at the end of
        observation and the realised label mix; ``by_month``: rating x realised label counts
        per cutoff.
    """
    df = test.assign(predicted=np.asarray(predicted, dtype=object))
    rows = []
    for r in RATINGS:
        g = df[df["predicted"] == r]
        amount = g["label_amount"].sum()
        rows.append(
            {
                "rating": r,
                "customers": int(len(g)),
                "invoices": int(g["label_invoices"].sum()),
                "late_share": float(g["label_late_n"].sum() / g["label_invoices"].sum())
                if len(g)
                else None,
                "mean_days_late": float(
                    (g["label_mean_days_late"] * g["label_amount"]).sum() / amount
                )
                if amount
                else None,
                "unpaid_share": float(g["label_unpaid_amount"].sum() / amount) if amount else None,
                **{
                    f"realised_{lab}": float((g["label"] == lab).mean()) if len(g) else None
                    for lab in RATINGS
                },
            }
        )
    by_month = []
    for as_of, g in df.groupby("as_of"):
        tab = pd.crosstab(g["predicted"], g["label"]).reindex(
            index=list(RATINGS), columns=list(RATINGS), fill_value=0
        )
        by_month.append(
            {"as_of": pd.Timestamp(as_of).date().isoformat(), "matrix": tab.to_numpy().tolist()}
        )
    return {
        "by_rating": rows,
        "by_month": by_month,
        "rows": list(RATINGS),
        "columns": list(RATINGS),
    }


def bootstrap_ci(
    y: np.ndarray,
    proba: np.ndarray,
    pred: np.ndarray,
    groups: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, list[float | None]]:
    """95 % intervals of macro-F1, AUC(bad) and ECE, resampling customers (not rows)."""
    rng = np.random.default_rng(seed)
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(uniq))]
    stats: dict[str, list[float]] = {"macro_f1": [], "auc_bad": [], "ece": []}
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[k] for k in pick])
        m = classification_metrics(y[idx], proba[idx], pred[idx])
        for k, values in stats.items():
            if m.get(k) is not None:
                values.append(m[k])
    return {
        k: ([float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else [None, None])
        for k, v in stats.items()
    }


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def _model_name(metrics: dict[str, Any]) -> str:
    selection = metrics.get("selection") or {}
    names = {
        "xgboost": "XGBoost (ordinal, monotone, calibrated)",
        "linear": "ordinal linear (L2, monotone, calibrated)",
        "blend": "blend of the model and the rule rating",
    }
    chosen = selection.get("chosen")
    return (
        f"{names.get(selection.get('kind'), 'model')}: `{chosen}`" if chosen else names["xgboost"]
    )


def _intervals(metrics: dict[str, Any]) -> str:
    """The gate's bootstrap intervals as a small table (empty without them)."""
    sig = metrics.get("significance")
    if not sig:
        return ""
    rows = []
    for name in ("persistence", "rule"):
        d = sig.get(f"vs_{name}")
        if d:
            rows.append(
                f"| macro-F1 gain over {name} | {d['gain']:+.3f} | "
                f"[{d['lower']:+.3f}, {d['upper']:+.3f}] | lower bound > 0 |"
            )
    e = sig.get("ece")
    if e:
        rows.append(
            f"| ECE (bias-adjusted) | {e['ece']:.3f} | [{e['lower']:.3f}, {e['upper']:.3f}] "
            f"(plain percentile upper {e.get('percentile_upper', float('nan')):.3f}) | upper "
            "bound within the gate's maximum |"
        )
    level = next((v["level"] for v in sig.values() if "level" in v), 0.9)
    return (
        f"\n## Gate intervals ({level:.0%} paired bootstrap over customers)\n"
        "| quantity | value | interval | gate needs |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


def _candidates(metrics: dict[str, Any]) -> str:
    """The candidates' cross-fitted validation metrics and the choice (empty without them)."""
    selection = metrics.get("selection")
    if not selection:
        return ""
    rows = "\n".join(
        f"| {name}{' (chosen)' if name == selection['chosen'] else ''} | "
        f"{_fmt(m.get('macro_f1'))} | {_fmt(m.get('log_loss'))} | {_fmt(m.get('ece'))} | "
        + (
            f"{m['gain_vs_default']['gain']:+.3f} [{m['gain_vs_default']['lower']:+.3f}, "
            f"{m['gain_vs_default']['upper']:+.3f}]"
            if m.get("gain_vs_default")
            else "—"
        )
        + " |"
        for name, m in selection["validation"].items()
    )
    return (
        "\n## Candidates (validation cutoffs only, calibration cross-fitted)\n"
        "| candidate | macro-F1 | log loss | ECE | gain vs xgboost |\n|---|---|---|---|---|\n"
        f"{rows}\n"
    )


def model_card(
    metrics: dict[str, Any],
    *,
    version: str,
    name: str,
    features: list[str],
    labels: dict[str, Any],
    split: dict[str, Any],
    gate: dict[str, Any],
) -> str:
    """Markdown model card for one registered version."""
    mod, rule, per = (
        metrics["model"],
        metrics["baselines"]["rule"],
        metrics["baselines"]["persistence"],
    )
    ci = metrics.get("bootstrap", {})

    def row(label: str, m: dict[str, Any], c: dict[str, Any] | None = None) -> str:
        c = c or {}

        def with_ci(k: str) -> str:
            lo_hi = c.get(k)
            if lo_hi and lo_hi[0] is not None:
                return f"{_fmt(m.get(k))} [{_fmt(lo_hi[0])}, {_fmt(lo_hi[1])}]"
            return _fmt(m.get(k))

        rec = " / ".join(_fmt(m["recall"][r]) for r in RATINGS)
        return (
            f"| {label} | {with_ci('macro_f1')} | {with_ci('auc_bad')} | "
            f"{_fmt(m.get('log_loss'))} | {_fmt(m.get('brier'))} | {with_ci('ece')} | {rec} |"
        )

    bt = metrics.get("backtest", {}).get("by_rating", [])
    bt_rows = "\n".join(
        f"| {b['rating']} | {b['customers']} | {b['invoices']} | {_fmt(b['late_share'], True)} "
        f"| {_fmt(b['mean_days_late'])} | {_fmt(b['unpaid_share'], True)} | "
        f"{_fmt(b['realised_good'], True)} / {_fmt(b['realised_average'], True)} / "
        f"{_fmt(b['realised_bad'], True)} |"
        for b in bt
    )
    natural = ", ".join(sorted(NATURAL_PERSON_TYPES))
    checks = "\n".join(f"- {c}" for c in gate.get("checks", []))
    if not gate.get("passed", True):
        tw = metrics.get("test_window", {})
        failed = [c.removeprefix("FAIL: ") for c in gate.get("checks", []) if c.startswith("FAIL")]
        checks += (
            f"\n\n**Why the gate failed:** {'; '.join(failed)}. The test window holds "
            f"{tw.get('rows', 'n/a')} snapshots of {tw.get('customers', 'n/a')} customers; "
            "where an interval crosses its limit the data cannot show that this model beats "
            "the baselines or is calibrated, so it is kept as challenger and, where no "
            "champion existed, the rule rating serves. More history or customers narrow the "
            "intervals."
        )
    return f"""# Model card: {name} version {version}

## Intended use
Rates each B2B customer **good / average / bad** for the next {labels["horizon_days"]} days from
its own invoice and payment history, to choose a collection segment and policy and to
prioritise collectors' work. It is a decision aid for finance teams, not an automated
credit decision. **Human review:** for natural persons ({natural}) any credit hold or limit
reduction derived from this rating always requires human review, with the reasons attached.

## Data and window
- Training cutoffs: {", ".join(split.get("train", []))}
- Validation cutoff(s) (early stopping, calibration, thresholds): {", ".join(split.get("val", []))}
- Out-of-time test cutoffs: {", ".join(split.get("test", []))}
- Data range: {split.get("data_start")} to {split.get("data_end")} (exclusive)
- Snapshots: {metrics["train_window"]["rows"]} train, {metrics["train_window"]["val_rows"]} \
validation, {metrics["test_window"]["rows"]} test; unrated snapshots excluded from test: \
{metrics["test_window"].get("unrated_excluded", 0)}

## Label
Over the invoices open at T or falling due in [T, T+{labels["horizon_days"]}), observed until
E = T+{labels["horizon_days"] + labels["grace_days"]} days: **good** if the amount-weighted mean
days late ≤ {labels["good_max_mean_days_late"]} and none > {labels["good_max_days_late"]};
**bad** if the mean > {labels["bad_min_mean_days_late"]}, or ≥ {labels["bad_unpaid_share"]:.0%}
of the amount unpaid ≥ {labels["bad_unpaid_days_past_due"]} days past due at E, or a write-off;
**average** otherwise. Invoices unpaid at E count E − due date days late.

## Features
{len(features)} model inputs computed as of T with the three-clock rule (an invoice paid on or
after T is open at T): payment history, 12-month window quantiles, trend, exposure and aging,
activity, disputes and write-offs, reminder responsiveness, last period's realised label,
static profile. Names and emails are never features.

## Out-of-time metrics (95 % bootstrap intervals over customers)
| model | macro-F1 | AUC bad | log loss | Brier | ECE | recall good / avg / bad |
|---|---|---|---|---|---|---|
{row(_model_name(metrics), mod, ci)}
{row("rule rating", rule)}
{row("persistence", per)}

{_intervals(metrics)}
{_candidates(metrics)}
## Backtest: what each predicted rating meant
| rating | customers | invoices | invoices paid late | mean days late | amount unpaid at E | \
realised good / avg / bad |
|---|---|---|---|---|---|---|
{bt_rows}

## Calibration
Each cumulative probability is calibrated on the validation cutoff (isotonic or sigmoid,
chosen by cross-fitted log loss); see `plots/reliability.png`. Top-label ECE out of time:
{_fmt(mod.get("ece"))}.

## Promotion gate
{checks}

## Known limits
- Ratings need payment history: customers with fewer paid invoices than the minimum are
  `unrated` and get the conservative default policy.
- The label is a lower bound for invoices still unpaid at E; a long grace may move some
  average customers to bad.
- Trained on one portfolio's behaviour; re-validate after changes in terms, dunning policy
  or customer mix (the monitoring job watches drift).
- Monotone constraints guarantee worse lateness never improves the rating, at some cost in
  fit where the true relation is not monotone.
"""
