"""Plots for the notebooks and reports: one consistent matplotlib style, figures returned.

Every function takes package outputs (frames and dicts) and returns a ``Figure``; none
computes features or metrics itself.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from payer_model.data.schema import ALL_RATINGS, RATINGS

COLORS = {"good": "#2E8B57", "average": "#E0A800", "bad": "#C0392B", "unrated": "#8C8C8C"}


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in (
        "agg",
        "module://matplotlib_inline.backend_inline",
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.dpi": 100,
        }
    )
    return plt


def payment_clocks(invoices: pd.DataFrame):
    """Two clocks side by side: days beyond terms vs days to pay, for paid invoices."""
    plt = _plt()
    inv = invoices[(invoices["amount"] > 0) & invoices["paid_date"].notna()]
    late = (inv["paid_date"] - inv["due_date"]).dt.days
    to_pay = (inv["paid_date"] - inv["invoice_date"]).dt.days
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    axes[0].hist(late.clip(-30, 150), bins=60, color="#4C72B0")
    axes[0].set_title("days beyond terms (paid - due)")
    axes[1].hist(to_pay.clip(0, 200), bins=60, color="#55A868")
    axes[1].set_title("days to pay (paid - invoice)")
    for ax in axes:
        ax.set_ylabel("invoices")
    fig.tight_layout()
    return fig


def aging(features: pd.DataFrame):
    """Open balance by aging bucket at the as-of date."""
    plt = _plt()
    cols = ["aging_1_30", "aging_31_60", "aging_61_90", "aging_90p"]
    not_due = (features["open_amt"] - features["overdue_amt"]).sum()
    vals = [not_due, *[features[c].sum() for c in cols]]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(
        ["not due", "1-30", "31-60", "61-90", "90+"],
        vals,
        color=["#8C8C8C", "#E0A800", "#E07B00", "#C0392B", "#7B241C"],
    )
    ax.set_ylabel("open amount")
    ax.set_title("aging of the open balance")
    fig.tight_layout()
    return fig


def class_balance(snapshots: pd.DataFrame):
    """Realised label mix per cutoff (stacked shares)."""
    plt = _plt()
    tab = pd.crosstab(snapshots["as_of"], snapshots["label"], normalize="index")
    tab = tab.reindex(columns=list(RATINGS), fill_value=0)
    fig, ax = plt.subplots(figsize=(10, 3.5))
    bottom = np.zeros(len(tab))
    labels = [pd.Timestamp(t).strftime("%Y-%m") for t in tab.index]
    for r in RATINGS:
        ax.bar(labels, tab[r], bottom=bottom, color=COLORS[r], label=r)
        bottom += tab[r].to_numpy()
    ax.set_ylabel("share of labelled customers")
    ax.set_title("label balance by cutoff")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def customer_timeline(
    features: pd.DataFrame,
    customer_id: str,
    columns: tuple[str, ...] = ("wmean_days_late_12m", "mean_days_late_90d", "overdue_amt"),
):
    """One customer's as-of features over many cutoffs."""
    plt = _plt()
    f = features[features["customer_id"] == customer_id].sort_values("as_of")
    fig, axes = plt.subplots(len(columns), 1, figsize=(9, 2.3 * len(columns)), sharex=True)
    for ax, col in zip(np.atleast_1d(axes), columns, strict=True):
        ax.plot(f["as_of"], f[col], marker="o")
        ax.set_ylabel(col, fontsize=8)
    np.atleast_1d(axes)[0].set_title(f"{customer_id}: features as of each cutoff")
    fig.tight_layout()
    return fig


def confusion(metrics: dict[str, Any]):
    """Confusion matrices of the model and both baselines on the test window."""
    plt = _plt()
    names = [
        ("model", metrics["model"]),
        ("rule", metrics["baselines"]["rule"]),
        ("persistence", metrics["baselines"]["persistence"]),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, (name, m) in zip(axes, names, strict=True):
        cm = np.asarray(m["confusion"])
        ax.imshow(cm, cmap="Blues")
        ax.grid(False)
        ax.set_xticks(range(3), RATINGS)
        ax.set_yticks(range(3), RATINGS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("realised")
        ax.set_title(f"{name}: macro-F1 {m['macro_f1']:.3f}")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(
                j,
                i,
                str(v),
                ha="center",
                va="center",
                color="white" if v > cm.max() / 2 else "black",
            )
    fig.tight_layout()
    return fig


def backtest(bt: dict[str, Any]):
    """What each predicted rating meant: late share, mean days late, unpaid share."""
    plt = _plt()
    rows = pd.DataFrame(bt["by_rating"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
    for ax, (col, title) in zip(
        axes,
        [
            ("late_share", "invoices paid late"),
            ("mean_days_late", "mean days late"),
            ("unpaid_share", "amount unpaid at E"),
        ],
        strict=True,
    ):
        ax.bar(rows["rating"], rows[col].astype(float), color=[COLORS[r] for r in rows["rating"]])
        ax.set_title(title)
    fig.suptitle("out-of-time backtest by predicted rating")
    fig.tight_layout()
    return fig


def rating_mix(frame: pd.DataFrame, column: str = "rating", by: str | None = None):
    """Counts per rating (or segment), optionally split by another column."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    if by is None:
        counts = frame[column].value_counts()
        order = [r for r in ALL_RATINGS if r in counts.index] or list(counts.index)
        order += [c for c in counts.index if c not in order]
        ax.bar(order, counts.reindex(order), color=[COLORS.get(o, "#4C72B0") for o in order])
    else:
        tab = pd.crosstab(frame[by], frame[column], normalize="index")
        bottom = np.zeros(len(tab))
        for col in tab.columns:
            ax.bar(
                tab.index.astype(str),
                tab[col],
                bottom=bottom,
                label=str(col),
                color=COLORS.get(str(col)),
            )
            bottom += tab[col].to_numpy()
        ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
        ax.tick_params(axis="x", rotation=45)
    ax.set_title(f"{column}" + (f" by {by}" if by else ""))
    fig.tight_layout()
    return fig


def heatmap(matrix: pd.DataFrame, title: str):
    """Annotated heatmap of a small matrix (e.g. a migration matrix)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(matrix.to_numpy(dtype=float), cmap="Oranges")
    ax.grid(False)
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=30)
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    for (i, j), v in np.ndenumerate(matrix.to_numpy()):
        ax.text(j, i, f"{v:,.0f}", ha="center", va="center", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def reliability(y: np.ndarray, probas: dict[str, np.ndarray], bins: int = 10):
    """One panel per class: observed frequency vs predicted probability, per model."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    edges = np.linspace(0, 1, bins + 1)
    for c, (ax, cls) in enumerate(zip(axes, RATINGS, strict=True)):
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        for name, p in probas.items():
            idx = np.clip(np.digitize(p[:, c], edges[1:-1]), 0, bins - 1)
            xs, ys = [], []
            for b in range(bins):
                m = idx == b
                if m.sum() >= 10:
                    xs.append(p[m, c].mean())
                    ys.append((y[m] == c).mean())
            ax.plot(xs, ys, marker="o", label=name)
        ax.set_title(f"P({cls})")
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].legend(loc="upper left")
    fig.tight_layout()
    return fig


def feature_importance(model, top: int = 20):
    """Total gain per input column, summed over the model's boosters (largest ``top``)."""
    plt = _plt()
    gains: dict[str, float] = {}
    for booster in model.boosters_:
        for k, v in booster.get_score(importance_type="total_gain").items():
            gains[k] = gains.get(k, 0.0) + v
    ranked = sorted(gains.items(), key=lambda kv: kv[1])[-top:]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh([k for k, _ in ranked], [v for _, v in ranked], color="#4C72B0")
    ax.set_xlabel("total gain (both boosters)")
    ax.set_title("feature importance")
    fig.tight_layout()
    return fig


def _optuna_plots():
    import optuna
    from optuna.visualization import matplotlib as ovm

    _plt()
    # The matplotlib plots are flagged experimental since Optuna 2.2; the warning is noise here.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return ovm


def optimization_history(study):
    """Objective value per trial of an Optuna study, with the best value so far."""
    return _optuna_plots().plot_optimization_history(study).figure


def param_importances(study):
    """Parameter importances of an Optuna study (needs two or more complete trials).

    Raises:
        RuntimeError: or ValueError, when Optuna cannot rank the parameters (e.g. every
            trial scored the same).
    """
    return _optuna_plots().plot_param_importances(study).figure
