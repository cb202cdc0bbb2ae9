"""`switchpoint report`: cost per completed outcome, from the ledger."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from switchpoint.cli.config_option import ConfigPath
from switchpoint.cli.ledger_option import run_on_ledger
from switchpoint.cli.terminal import escape, stderr, stdout
from switchpoint.ledger.reports import Report, ReportGroup, normalise_group_by, outcome_report
from switchpoint.ledger.since import BadSince, parse_since

if TYPE_CHECKING:
    from rich.table import Table


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render_table(report: Report, since_text: str) -> Table:
    from rich.table import Table
    from rich.text import Text

    by = report.by.replace("_", "-")
    headline = (
        "cost per completed outcome"
        if report.metric == "cost_per_completed_outcome"
        else "cost per million tokens"
    )
    # Text, not markup: `--since` and group keys (teams, workloads) are user-supplied.
    title = f"by {by}, last {since_text} (ranked by {headline})"
    table = Table(title=Text(title, style="table.title"))
    columns: list[tuple[str, str]] = [
        (by, "left"),
        ("requests", "right"),
        ("tasks", "right"),
        ("completed", "right"),
        ("success", "right"),
        ("cost", "right"),
        ("cost/outcome", "right"),
        ("tokens/outcome", "right"),
        ("cost/Mtok", "right"),
        ("p50 ms", "right"),
        ("p95 ms", "right"),
        ("fallback", "right"),
    ]
    bold = "cost/outcome" if report.metric == "cost_per_completed_outcome" else "cost/Mtok"
    for name, justify in columns:
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            style="bold" if name == bold else None,
        )
    for group in report.groups:
        unpriced = f" (+{group.unpriced_requests} unpriced)" if group.unpriced_requests else ""
        table.add_row(
            Text(group.key if group.key is not None else "(none)"),
            _num(group.requests),
            _num(group.tasks),
            _num(group.completed_outcomes),
            _pct(group.success_rate),
            _usd(group.cost_usd) + unpriced,
            _usd(group.cost_per_completed_outcome),
            _num(group.tokens_per_completed_outcome),
            _usd(group.cost_per_mtok),
            _num(group.latency_p50_ms, 1),
            _num(group.latency_p95_ms, 1),
            _pct(group.fallback_rate),
        )
    return table


def render_changes(report: Report) -> Table | None:
    """What the gateway changed in the requests it sent, per model; None if nothing."""
    if not report.attempt_changes:
        return None
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text("requests changed by the gateway, per model", style="table.title"))
    table.add_column("model")
    table.add_column("attempts", justify="right")
    table.add_column("output capped", justify="right")
    table.add_column("params dropped")
    for changes in report.attempt_changes:
        dropped = ", ".join(f"{name} ({count})" for name, count in changes.dropped_params.items())
        table.add_row(
            Text(changes.model),
            _num(changes.attempts),
            _num(changes.output_capped),
            Text(dropped or "-"),
        )
    return table


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    fields = list(asdict(ReportGroup(None)))
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for group in report.groups:
        writer.writerow({k: "" if v is None else v for k, v in asdict(group).items()})
    return buffer.getvalue()


def report(
    since: Annotated[str, typer.Option(help="Window: 7d, 24h, 30m, 2w, all, or a date.")] = "7d",
    by: Annotated[
        str, typer.Option(help="Group by workload, model, team or task-kind.")
    ] = "workload",
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, json or csv.")
    ] = "table",
    config: ConfigPath = None,
) -> None:
    """Requests, tasks, outcomes, cost per completed outcome, latency and fallback rate
    per group, from the ledger; then, per model, the attempts whose request the gateway
    changed (output capped, sampling settings dropped)."""
    now = time.time()
    try:
        start = parse_since(since, now)
        grouping = normalise_group_by(by)
    except (BadSince, ValueError) as exc:
        stderr().print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(2) from None
    if output_format not in ("table", "json", "csv"):
        stderr().print(
            f"[red]unknown format {escape(repr(output_format))} (table, json or csv)[/]",
            highlight=False,
        )
        raise typer.Exit(2)
    _, result = run_on_ledger(
        config,
        lambda cfg, connection: outcome_report(
            connection, since=start, until=now, by=grouping, metric=cfg.routing.cost.metric
        ),
    )
    if output_format == "json":
        typer.echo(orjson.dumps(result.to_dict()).decode())
    elif output_format == "csv":
        typer.echo(render_csv(result), nl=False)
    else:
        if not result.groups:
            stderr().print(
                f"no requests in the ledger in the last {escape(since)}", highlight=False
            )
            return
        stdout().print(render_table(result, since))
        changes = render_changes(result)
        if changes is not None:
            stdout().print(changes)
