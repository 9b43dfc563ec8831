"""Segment policy commands (DESIGN §6): ``policy validate / show / simulate`` and ``worklist``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from payer_model.cli.common import (
    ConfigOpt,
    DataDir,
    JsonOpt,
    PolicyOpt,
    app,
    command,
    console,
    err,
    load_config,
    load_policies,
    load_tables,
    settings,
    tracking_uri,
)

policy_app = typer.Typer(
    help="Segment policies: validate a policy file, show it, replay it on history.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


@policy_app.command("validate")
@command
def policy_validate(
    file: Annotated[Path, typer.Argument(help="policy YAML file")],
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Check a policy file; a bad key, channel or shadowed rule fails with its spot."""
    ps = load_policies(file)
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


SHOW_COLUMNS = (
    "segment",
    "rules",
    "tone",
    "sequence (days vs due)",
    "max",
    "escalation",
    "credit",
    "review",
)


@policy_app.command("show")
@command
def policy_show(policy: PolicyOpt = None, json_out: JsonOpt = None) -> dict[str, Any]:
    """Print the segments in match order with their policies."""
    from payer_model.policy.policies import policy_summary
    from payer_model.policy.rules import rule_text

    ps = load_policies(policy)
    table = Table(
        title=f"segment policies (policy_version {ps.policy_version}; first matching rule wins)"
    )
    for col in SHOW_COLUMNS:
        table.add_column(col)
    out = []
    for s in ps.segments:
        summary = policy_summary(s)
        summary["rules"] = [rule_text(r) for r in s.rules]
        out.append(summary)
        cp = s.policy.credit
        credit = cp.action + (f" {cp.reduce_limit_pct:g}%" if cp.reduce_limit_pct else "")
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


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def print_simulation(res: dict[str, Any], useless_days: int) -> None:
    """Per segment: the policy's counts and cash next to the baseline's."""
    table = Table(
        title=f"policy simulation {res['date_from']} .. {res['date_to']} "
        f"(policy {res['policy_version']}, model {res['model_version']}) vs baseline "
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
    for r in res["segments"]:
        table.add_row(
            r["segment"],
            f"{r['reminders']:,} ({r['baseline_reminders']:,})",
            f"{r['calls']:,} ({r['baseline_calls']:,})",
            f"{r['escalations']:,}",
            f"{_pct(r['useless_rate'])} ({_pct(r['baseline_useless_rate'])})",
            f"{r['cash_collected']:,.0f} ({r['baseline_cash_collected']:,.0f})",
            f"{r['cash_diff']:+,.0f}",
        )
    console.print(table)
    console.print(f"note: {res['note']}", highlight=False)


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
    from payer_model.jobs.policy import replay_policies

    cfg, _ = load_config(config)
    ps = load_policies(policy)
    tables = load_tables(data, cfg)
    with err.status("replaying policies month by month"):
        res = replay_policies(
            tables,
            date_from,
            date_to,
            cfg,
            ps,
            tracking_uri=tracking_uri(),
            useless_days=useless_days,
        )
    print_simulation(res, useless_days)
    return res


def _est(e: dict[str, Any] | None, fmt: str) -> str:
    if not e:
        return ""
    return f"{e['value']:{fmt}} [{e['lo']:{fmt}}, {e['hi']:{fmt}}]"


EVALUATE_ROWS = (
    ("reminders sent", "reminders", "ips", ",.0f"),
    ("useless-reminder rate", "useless_rate", "ips", ".1%"),
    ("P(paid in 14 d), IPS", "paid_14", "ips", ".3f"),
    ("P(paid in 14 d), DR", "paid_14", "dr", ".3f"),
    ("days to cash (cap 60)", "days_to_cash", "ips", ".2f"),
    ("cash in 30 d / decision, IPS", "cash_30", "ips", ",.0f"),
    ("cash in 30 d / decision, DR", "cash_30", "dr", ",.0f"),
)


def print_evaluation(res: dict[str, Any], title: str) -> None:
    """Learned vs playbook vs baseline with 90 % bootstrap intervals, then the differences."""
    pol, diff = res["policies"], res["vs_playbook"]
    table = Table(title=f"{title}: {res['decisions']:,} logged decisions")
    table.add_column("metric")
    for name in (*pol, *diff):
        table.add_column(name, justify="right")
    for label, metric, method, fmt in EVALUATE_ROWS:
        cells = [_est(pol[n].get(metric, {}).get(method), fmt) for n in pol]
        cells += [_est(diff[n].get(metric, {}).get(method), fmt) for n in diff]
        table.add_row(label, *cells)
    console.print(table)


@policy_app.command("evaluate")
@command
def policy_evaluate(
    data: DataDir,
    date_from: Annotated[str, typer.Option("--from", help="first evaluated day YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="day after the last evaluated day")],
    policy: PolicyOpt = None,
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples")] = 200,
    track: Annotated[bool, typer.Option(help="log the uplift training run to MLflow")] = True,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
) -> dict[str, Any]:
    """Learned chasing vs fixed playbook vs baseline, off-policy (IPS / DR, 90 % intervals).

    Needs DATA/chase_log.csv, the log of a randomised chasing policy (``generate --uplift``).
    """
    from payer_model.jobs.chase import evaluate_chasing, evaluation_truth, read_chase_log

    cfg, _ = load_config(config)
    ps = load_policies(policy)
    chase_log = read_chase_log(data)
    tables = load_tables(data, cfg)
    truth, chase_truth = evaluation_truth(data)
    with err.status("training the uplift model and evaluating off-policy"):
        res = evaluate_chasing(
            tables,
            chase_log,
            date_from,
            date_to,
            cfg,
            ps,
            tracking_uri=tracking_uri() if track else None,
            truth=truth,
            chase_truth=chase_truth,
            n_boot=n_boot,
        )
    head = f"{res['date_from']} .. {res['date_to']} (policy {res['policy_version']})"
    print_evaluation(res["all"], f"chasing {head}")
    for name, part in res["segments"].items():
        print_evaluation(part, f"segment {name}")
    console.print(
        f"learned actions: {res['learned_actions']}; playbook: {res['playbook_actions']}; "
        f"baseline: {res['baseline_action']}",
        highlight=False,
    )
    tc = res.get("truth_check")
    if tc:
        console.print(
            f"truth check: {tc['within_20pct']}/{tc['channels_checked']} channel effects "
            f"within ±20 % of the generator's ({tc['cells_checked']} action cells: "
            f"{tc['cells_within_20pct']} within)",
            highlight=False,
        )
    if res.get("run_id"):
        console.print(f"uplift run {res['run_id']} (model card: model_card.md)", highlight=False)
    return res


WORKLIST_COLUMNS = (
    "#",
    "collector",
    "customer",
    "segment",
    "P(bad)",
    "overdue",
    "priority",
    "next action",
    "credit",
)


def print_worklist(res: dict[str, Any], collectors: int) -> None:
    """The top of the ranked worklist, then where the decisions and the list went."""
    table = Table(
        title=f"worklist as of {res['as_of']} ({res['customers']:,} customers, "
        f"{collectors} collector(s); policy {res['policy_version']}, "
        f"model {res['model_version']})"
    )
    for col in WORKLIST_COLUMNS:
        table.add_column(
            col, justify="right" if col in ("#", "P(bad)", "overdue", "priority") else "left"
        )
    for r in res["top"]:
        p_bad = "n/a" if r["p_bad"] is None or r["p_bad"] != r["p_bad"] else f"{r['p_bad']:.2f}"
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
        f"{res['decisions_recorded']:,} decisions recorded in {res['audit_db']}"
        + (f"; list written to {res['out']}" if res["out"] else ""),
        highlight=False,
    )


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
    from payer_model.jobs.policy import collector_worklist

    cfg, _ = load_config(config)
    ps = load_policies(policy)
    tables = load_tables(data, cfg)
    with err.status("scoring and applying policies"):
        res = collector_worklist(
            tables,
            as_of,
            cfg,
            ps,
            tracking_uri=tracking_uri(),
            audit_db=settings().audit_db,
            collectors=collectors,
            out=out,
            top=top,
        )
    print_worklist(res, collectors)
    return res
