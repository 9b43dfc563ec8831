"""``payer-model``: one Typer app for every job.

Heavy libraries (pandas, DuckDB, XGBoost, MLflow) are imported inside the commands so that
``payer-model --help`` answers at once. Every command returns a dict, prints a readable
summary, and can write the dict as JSON with ``--json FILE``. Expected failures (bad input,
bad config, too little history, no champion) end with a one-line message and exit code 2,
never a traceback; set ``PAYER_DEBUG=1`` to see one anyway.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="payer-model",
    help="Rate B2B payers good / average / bad, explain it, and track it in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Argument(help="folder with customers/invoices CSV or Parquet")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="training config YAML [training/configs/train.yaml]"),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="also write the result as JSON")]


def _setup_logging() -> None:
    level = os.environ.get("PAYER_LOG_LEVEL", "WARNING").upper()
    # MLflow configures its own loggers on import; these keep the CLI output readable.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from payer_model.adapters.registry import RegistryError
    from payer_model.config import ConfigError
    from payer_model.data.contract import ContractError
    from payer_model.features.labels import InsufficientHistoryError

    return (
        ContractError,
        ConfigError,
        InsufficientHistoryError,
        RegistryError,
        ValueError,
        FileNotFoundError,
        KeyError,
    )


def command(fn: Callable[..., dict[str, Any]]) -> Callable[..., None]:
    """Wrap a command: logging, one-line errors, optional JSON output."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        _setup_logging()
        json_out = kwargs.get("json_out")
        try:
            result = fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:
            if os.environ.get("PAYER_DEBUG"):
                raise
            expected = isinstance(exc, _expected_errors())
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not expected:
                msg = f"unexpected {type(exc).__name__}: {msg} (PAYER_DEBUG=1 shows details)"
            raise _fail(msg, 2 if expected else 1) from None
        if json_out and result is not None:
            Path(json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(json_out).write_text(json.dumps(result, indent=2, default=str))
        code = (result or {}).get("_exit_code", 0)
        if code:
            raise typer.Exit(code)

    return wrapper


def _config(path: Path | None):
    from payer_model.config import DEFAULT_TRAIN_CONFIG, load_config

    if path is None and DEFAULT_TRAIN_CONFIG.exists():
        path = DEFAULT_TRAIN_CONFIG
    return load_config(path), path


def _tracking_uri() -> str:
    from payer_model.config import Settings

    return Settings().tracking_uri


def load_tables(data: Path, cfg, quarantine_dir: Path | None = None) -> dict[str, Any]:
    """Validated tables of a data folder (bad rows quarantined and reported on stderr)."""
    from payer_model.data.contract import load_dataset

    ds = load_dataset(
        data,
        quarantine_dir=quarantine_dir,
        max_bad_share=cfg.data.max_bad_share,
        default_currency=cfg.data.default_currency,
    )
    q = sum(ds.report.quarantined.values())
    if q:
        top = ", ".join(
            f"{k} {v}" for k, v in sorted(ds.report.reasons.items(), key=lambda kv: -kv[1])[:4]
        )
        err.print(f"[yellow]{q} rows quarantined[/] ({top})", highlight=False)
    return {
        "customers": ds.customers,
        "invoices": ds.invoices,
        "payments": ds.payments,
        "reminders": ds.reminders,
    }


def _default_as_of(tables: dict[str, Any]):
    from payer_model.features.labels import data_range

    return data_range(tables["invoices"])[1]


@app.command()
@command
def generate(
    out: Annotated[Path, typer.Option(help="output folder")],
    customers: Annotated[int, typer.Option(help="number of customers")] = 1500,
    months: Annotated[int, typer.Option(help="months of history")] = 24,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same files)")] = 42,
    start: Annotated[str, typer.Option(help="first day of the history")] = "2023-01-01",
    shift_from: Annotated[
        str | None, typer.Option(help="worsen payment behaviour from this date (drift tests)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Write a synthetic portfolio (contract tables plus truth.csv) to OUT."""
    from payer_model.data.generate import generate_dataset, write_dataset

    with err.status("generating synthetic portfolio"):
        tables = generate_dataset(customers, months, seed=seed, start=start, shift_from=shift_from)
        paths = write_dataset(tables, out, fmt=fmt)
    result = {name: len(df) for name, df in tables.items()}
    console.print(f"wrote {', '.join(f'{k} {v:,}' for k, v in result.items())} rows to {out}")
    return {"rows": result, "files": {k: str(v) for k, v in paths.items()}}


@app.command()
@command
def validate(
    data: DataDir,
    quarantine: Annotated[
        Path, typer.Option(help="where quarantined rows and report.json go")
    ] = Path("reports/quarantine"),
    max_bad_share: Annotated[
        float | None, typer.Option(help="bad-row share that stops the run [config]")
    ] = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Check a data folder against the contract; quarantine bad rows with their reason."""
    from payer_model.data.contract import load_dataset

    cfg, _ = _config(config)
    limit = cfg.data.max_bad_share if max_bad_share is None else max_bad_share
    ds = load_dataset(
        data,
        quarantine_dir=quarantine,
        max_bad_share=limit,
        default_currency=cfg.data.default_currency,
        enforce_limit=False,
    )
    rep = ds.report
    table = Table(title=f"contract check: {data}")
    for col in ("table", "rows in", "accepted", "quarantined"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, n in rep.rows_in.items():
        table.add_row(
            name, f"{n:,}", f"{rep.rows_out.get(name, 0):,}", f"{rep.quarantined.get(name, 0):,}"
        )
    console.print(table)
    if rep.reasons:
        reasons = Table(title="quarantined rows by reason")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for reason, n in sorted(rep.reasons.items(), key=lambda kv: -kv[1]):
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
    for note in rep.notes:
        console.print(f"note: {note}", highlight=False)
    result = rep.to_dict()
    share = rep.bad_share("invoices")
    if share > limit:
        err.print(
            f"[bold red]error:[/] invoices: {share:.1%} of rows quarantined (limit {limit:.1%});"
            f" see {quarantine}",
            highlight=False,
        )
        result["_exit_code"] = 2
    else:
        console.print(f"ok: {share:.2%} of invoice rows quarantined (limit {limit:.1%})")
    return result


@app.command()
@command
def features(
    data: DataDir,
    as_of: Annotated[str, typer.Option("--as-of", help="cutoff date YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="output Parquet file")],
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark")] = "duckdb",
) -> dict[str, Any]:
    """Compute as-of features (events dated on or after --as-of are unknown)."""
    from payer_model.features import compute, engine_options

    cfg, _ = _config(config)
    tables = load_tables(data, cfg)
    with err.status("computing features"):
        feats = compute(tables, as_of, cfg, **engine_options(engine))
    out.parent.mkdir(parents=True, exist_ok=True)
    feats.to_parquet(out, index=False)
    console.print(f"wrote {len(feats):,} customers x {feats.shape[1] - 2} features to {out}")
    return {"rows": len(feats), "columns": list(feats.columns), "out": str(out)}


def _print_metrics(metrics: dict[str, Any]) -> None:
    table = Table(
        title=f"out-of-time test ({', '.join(metrics['test_window']['cutoffs'])}, "
        f"{metrics['test_window']['rows']:,} snapshots)"
    )
    for col in ("model", "macro-F1", "AUC bad", "log loss", "ECE", "recall good/avg/bad"):
        table.add_column(col, justify="left" if col == "model" else "right")

    def fmt(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    rows = [
        ("XGBoost", metrics["model"]),
        ("rule rating", metrics["baselines"]["rule"]),
        ("persistence", metrics["baselines"]["persistence"]),
    ]
    for name, m in rows:
        rec = "/".join(fmt(m["recall"][r]) for r in ("good", "average", "bad"))
        table.add_row(
            name,
            fmt(m["macro_f1"]),
            fmt(m.get("auc_bad")),
            fmt(m.get("log_loss")),
            fmt(m.get("ece")),
            rec,
        )
    console.print(table)


@app.command()
@command
def train(
    data: DataDir,
    config: ConfigOpt = None,
    out: Annotated[Path, typer.Option(help="metrics JSON file")] = Path("reports/metrics.json"),
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Train XGBoost and both baselines, log to MLflow, promote through the gate."""
    from payer_model.jobs.train import train as train_job

    cfg, cfg_path = _config(config)
    tables = load_tables(data, cfg)
    uri = _tracking_uri()
    with err.status("training") as status:
        metrics = train_job(
            tables, cfg, tracking_uri=uri, config_path=cfg_path, progress=status.update
        )
    _print_metrics(metrics)
    for check in metrics["gate"]["checks"]:
        console.print(f"  gate {check}", highlight=False)
    console.print(f"[bold]{metrics['message']}[/]", highlight=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, default=str))
    console.print(f"metrics written to {out}; MLflow store {uri} (run {metrics['run_id']})")
    return metrics


def _load_champion(cfg):
    from payer_model.adapters import registry

    registry.configure(_tracking_uri())
    return registry.download_bundle(cfg.registered_model, registry.CHAMPION)


@app.command()
@command
def score(
    data: DataDir,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="cutoff date [day after the last event]")
    ] = None,
    out: Annotated[Path, typer.Option(help="output Parquet file")] = Path(
        "reports/ratings.parquet"
    ),
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark")] = "duckdb",
) -> dict[str, Any]:
    """Rate every customer with the champion model as of a date."""
    import pandas as pd

    from payer_model.features import engine_options
    from payer_model.jobs.train import score as score_job

    cfg, _ = _config(config)
    tables = load_tables(data, cfg)
    when = pd.Timestamp(as_of) if as_of else _default_as_of(tables)
    with err.status("loading champion and scoring"):
        model, mv = _load_champion(cfg)
        ratings = score_job(
            tables, when, model, cfg, model_version=mv.version, **engine_options(engine)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    ratings.to_parquet(out, index=False)
    counts = (
        ratings["rating"]
        .value_counts()
        .reindex(["good", "average", "bad", "unrated"], fill_value=0)
    )
    table = Table(title=f"ratings as of {when.date()} (model version {mv.version})")
    table.add_column("rating")
    table.add_column("customers", justify="right")
    table.add_column("share", justify="right")
    for r, n in counts.items():
        table.add_row(r, f"{n:,}", f"{n / max(len(ratings), 1):.1%}")
    console.print(table)
    console.print(f"wrote {len(ratings):,} ratings to {out}")
    return {
        "as_of": str(when.date()),
        "counts": counts.to_dict(),
        "out": str(out),
        "model_version": str(mv.version),
    }


@app.command()
@command
def explain(
    data: DataDir,
    customer: Annotated[str, typer.Option(help="customer id")],
    as_of: Annotated[str, typer.Option("--as-of", help="cutoff date YYYY-MM-DD")],
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Print a customer's rating and its top reasons as of a date, with the champion."""
    import pandas as pd

    from payer_model.jobs.train import score as score_job

    cfg, _ = _config(config)
    tables = load_tables(data, cfg)
    known = set(tables["invoices"]["customer_id"].astype(str))
    if tables["customers"] is not None:
        known |= set(tables["customers"]["customer_id"].astype(str))
    if customer not in known:
        raise ValueError(f"customer {customer!r} is not in {data}")
    model, mv = _load_champion(cfg)
    inv = tables["invoices"]
    one = {
        k: (
            v[v["customer_id"].astype(str) == customer]
            if v is not None and "customer_id" in v
            else v
        )
        for k, v in tables.items()
    }
    one["invoices"] = inv[inv["customer_id"].astype(str) == customer]
    row = score_job(one, pd.Timestamp(as_of), model, cfg, model_version=mv.version).iloc[0]
    reasons = json.loads(row["reasons"])
    probs = ""
    if row["rating"] != "unrated":
        probs = (
            f" (P good {row['p_good']:.2f}, average {row['p_average']:.2f}, "
            f"bad {row['p_bad']:.2f}; score {row['score']:.0f})"
        )
    console.print(
        f"[bold]{customer}[/] as of {as_of}: [bold]{row['rating']}[/]{probs}, "
        f"model version {mv.version}",
        highlight=False,
    )
    for k, r in enumerate(reasons, 1):
        console.print(f"  {k}. {r['code']}: {r['text']}", highlight=False)
    return {
        "customer_id": customer,
        "as_of": as_of,
        "rating": row["rating"],
        "reasons": reasons,
        "model_version": str(mv.version),
    }


@app.command()
@command
def demo(
    data: Annotated[Path, typer.Argument(help="data folder")] = Path("data/sample"),
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Train, register and promote, score the portfolio, and print a summary."""
    metrics_path = Path("reports/metrics.json")
    ctx_metrics = train.__wrapped__(data, config=config, out=metrics_path, json_out=None)
    scored = score.__wrapped__(
        data, as_of=None, out=Path("reports/ratings.parquet"), config=config, json_out=None
    )
    uri = _tracking_uri()
    console.rule("summary")
    console.print(
        f"champion: {ctx_metrics['champion_kind'] or 'unchanged'}; {ctx_metrics['message']}",
        highlight=False,
    )
    console.print(
        f"MLflow store: {uri}; open the UI with `make mlflow-ui` "
        f"(mlflow ui --backend-store-uri {uri}) and browse to http://127.0.0.1:5000",
        highlight=False,
    )
    console.print(f"ratings: {scored['out']}; metrics: {metrics_path}", highlight=False)
    return {"train": ctx_metrics, "score": scored}


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m payer_model``."""
    app(prog_name="payer-model")
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# Segment policies (DESIGN §6): policy validate / show / simulate, and the collector worklist.
policy_app = typer.Typer(
    help="Segment policies: validate a policy file, show it, replay it on history.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="policy file [serving/policies.yaml]")
]


def _policies(path: Path | None):
    from payer_model.policy.engine import DEFAULT_POLICY_FILE, load_policies

    return load_policies(path or DEFAULT_POLICY_FILE)


def _rated(tables: dict[str, Any], as_of, model, cfg, model_version: str):
    """Champion ratings merged with the as-of features the policy rules read."""
    from payer_model.jobs.train import rated_portfolio

    return rated_portfolio(tables, as_of, model, cfg, model_version=model_version)


@policy_app.command("validate")
@command
def policy_validate(
    file: Annotated[Path, typer.Argument(help="policy YAML file")],
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Check a policy file; a bad key, channel or shadowed rule fails with its spot."""
    ps = _policies(file)
    rules = sum(len(s.rules) for s in ps.segments)
    console.print(
        f"ok: {file}: {len(ps.segments)} segments, {rules} rules, "
        f"policy_version {ps.policy_version}",
        highlight=False,
    )
    return {
        "file": str(file),
        "segments": [s.name for s in ps.segments],
        "rules": rules,
        "policy_version": ps.policy_version,
    }


@policy_app.command("show")
@command
def policy_show(policy: PolicyOpt = None, json_out: JsonOpt = None) -> dict[str, Any]:
    """Print the segments in match order with their policies."""
    from payer_model.policy.engine import _policy_summary, rule_text

    ps = _policies(policy)
    table = Table(
        title=f"segment policies (policy_version {ps.policy_version}; first matching rule wins)"
    )
    for col in (
        "segment",
        "rules",
        "tone",
        "sequence (days vs due)",
        "max",
        "escalation",
        "credit",
        "review",
    ):
        table.add_column(col)
    out = []
    for s in ps.segments:
        summary = _policy_summary(s)
        summary["rules"] = [rule_text(r) for r in s.rules]
        out.append(summary)
        credit = s.policy.credit.action + (
            f" {s.policy.credit.reduce_limit_pct:g}%" if s.policy.credit.reduce_limit_pct else ""
        )
        table.add_row(
            s.name,
            "\n".join(summary["rules"]),
            s.policy.tone,
            ", ".join(summary["sequence"]) or "-",
            str(s.policy.max_reminders),
            ", ".join(summary["escalation"]) or "-",
            credit,
            f"{s.policy.review_every_days}d",
        )
    console.print(table)
    console.print(f"default segment: {ps.default_segment}", highlight=False)
    return {
        "policy_version": ps.policy_version,
        "default_segment": ps.default_segment,
        "segments": out,
    }


@policy_app.command("simulate")
@command
def policy_simulate(
    data: DataDir,
    date_from: Annotated[str, typer.Option("--from", help="first replayed day YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="day after the last replayed day")],
    policy: PolicyOpt = None,
    useless_days: Annotated[
        int, typer.Option(help="a reminder is useless if the invoice was paid within N days")
    ] = 3,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Replay the policies on history (champion ratings month by month) vs a baseline."""
    from payer_model.policy.simulate import simulate_policy

    cfg, _ = _config(config)
    ps = _policies(policy)
    tables = load_tables(data, cfg)
    with err.status("replaying policies month by month"):
        model, mv = _load_champion(cfg)
        res = simulate_policy(
            tables,
            date_from,
            date_to,
            ps,
            lambda t, as_of: _rated(t, as_of, model, cfg, str(mv.version)),
            useless_days=useless_days,
        )
    table = Table(
        title=f"policy simulation {res['date_from']} .. {res['date_to']} "
        f"(policy {res['policy_version']}, model {mv.version}) vs baseline "
        f"{', '.join(res['baseline'])}"
    )
    for col in (
        "segment",
        "reminders (base)",
        "calls (base)",
        "escalations",
        f"useless ≤{useless_days}d (base)",
        "cash collected (base)",
        "cash diff",
    ):
        table.add_column(col, justify="left" if col == "segment" else "right")

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1%}"

    for r in res["segments"]:
        table.add_row(
            r["segment"],
            f"{r['reminders']:,} ({r['baseline_reminders']:,})",
            f"{r['calls']:,} ({r['baseline_calls']:,})",
            f"{r['escalations']:,}",
            f"{pct(r['useless_rate'])} ({pct(r['baseline_useless_rate'])})",
            f"{r['cash_collected']:,.0f} ({r['baseline_cash_collected']:,.0f})",
            f"{r['cash_diff']:+,.0f}",
        )
    console.print(table)
    console.print(f"note: {res['note']}", highlight=False)
    res["model_version"] = str(mv.version)
    return res


@app.command()
@command
def worklist(
    data: DataDir,
    as_of: Annotated[str, typer.Option("--as-of", help="decision date YYYY-MM-DD")],
    collectors: Annotated[int, typer.Option(min=1, help="split the list across N collectors")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="write the ranked list (CSV or Parquet)")
    ] = None,
    policy: PolicyOpt = None,
    top: Annotated[int, typer.Option(help="rows to print")] = 20,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Rank customers for collectors by P(bad) x overdue balance; audit every decision."""
    import pandas as pd

    from payer_model.api.audit import AuditStore
    from payer_model.config import Settings
    from payer_model.policy.engine import decide_all

    cfg, _ = _config(config)
    ps = _policies(policy)
    tables = load_tables(data, cfg)
    when = pd.Timestamp(as_of)
    with err.status("scoring and applying policies"):
        model, mv = _load_champion(cfg)
        scored = _rated(tables, when, model, cfg, str(mv.version))
        decisions = decide_all(tables, scored, when, ps)
    audit_path = Settings().audit_db
    AuditStore(audit_path).record_decisions(
        {
            "customer_id": d.customer_id,
            "as_of": d.as_of,
            "segment": d.segment,
            "policy_version": d.policy_version,
            "model_version": str(mv.version),
            "reasons": d.credit.reasons,  # segment reasons plus the credit action's
            "payload": d.model_dump(mode="json"),
        }
        for d in decisions
    )
    rows = []
    for d in decisions:
        if d.priority <= 0 and not any(a.date <= when.date() for a in d.next_actions):
            continue
        nxt = d.next_actions[0] if d.next_actions else None
        rows.append(
            {
                "customer_id": d.customer_id,
                "segment": d.segment,
                "rating": d.rating,
                "p_bad": d.p_bad,
                "overdue_amt": d.overdue_amt,
                "priority": d.priority,
                "next_action_date": str(nxt.date) if nxt else None,
                "next_action": (nxt.channel or f"escalate to {nxt.to}") if nxt else None,
                "credit_action": d.credit.action,
                "requires_human_review": d.requires_human_review,
            }
        )
    ranked = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "segment",
            "rating",
            "p_bad",
            "overdue_amt",
            "priority",
            "next_action_date",
            "next_action",
            "credit_action",
            "requires_human_review",
        ],
    )
    ranked = ranked.sort_values(
        ["priority", "overdue_amt", "customer_id"], ascending=[False, False, True], kind="stable"
    )
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    ranked.insert(1, "collector", [(i % collectors) + 1 for i in range(len(ranked))])
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            ranked.to_parquet(out, index=False)
        else:
            ranked.to_csv(out, index=False)
    table = Table(
        title=f"worklist as of {when.date()} ({len(ranked):,} customers, "
        f"{collectors} collector(s); policy {ps.policy_version}, "
        f"model {mv.version})"
    )
    for col in (
        "#",
        "collector",
        "customer",
        "segment",
        "P(bad)",
        "overdue",
        "priority",
        "next action",
        "credit",
    ):
        table.add_column(
            col, justify="right" if col in ("#", "P(bad)", "overdue", "priority") else "left"
        )
    for r in ranked.head(top).to_dict("records"):
        p_bad = "n/a" if pd.isna(r["p_bad"]) else f"{r['p_bad']:.2f}"
        credit = r["credit_action"] + (" [human review]" if r["requires_human_review"] else "")
        table.add_row(
            str(r["rank"]),
            str(r["collector"]),
            r["customer_id"],
            r["segment"],
            p_bad,
            f"{r['overdue_amt']:,.0f}",
            f"{r['priority']:,.0f}",
            f"{r['next_action_date']} {r['next_action']}",
            credit,
        )
    console.print(table)
    console.print(
        f"{len(decisions):,} decisions recorded in {audit_path}"
        + (f"; list written to {out}" if out else ""),
        highlight=False,
    )
    per = ranked.groupby("collector").agg(
        customers=("customer_id", "size"), priority=("priority", "sum")
    )
    return {
        "as_of": str(when.date()),
        "policy_version": ps.policy_version,
        "model_version": str(mv.version),
        "customers": len(ranked),
        "decisions_recorded": len(decisions),
        "audit_db": str(audit_path),
        "collectors": {
            str(k): {"customers": int(v["customers"]), "priority": round(float(v["priority"]), 2)}
            for k, v in per.iterrows()
        },
        "top": ranked.head(top).to_dict("records"),
        "out": str(out) if out else None,
    }
