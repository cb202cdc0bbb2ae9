"""`switchpoint keys create|list|revoke`: virtual keys, straight in the ledger database
(a running gateway picks changes up at its next sync, or at once on first use)."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
import typer

from switchpoint.cli.config_option import ConfigPath
from switchpoint.cli.ledger_option import run_on_ledger
from switchpoint.cli.terminal import escape, stderr, stdout
from switchpoint.keys.issue import check_key_request, issue_key, key_info
from switchpoint.keys.key_format import key_reference
from switchpoint.keys.listing import list_keys
from switchpoint.ledger.key_records import revoke_key

keys_app = typer.Typer(
    name="keys", help="Manage virtual keys.", no_args_is_help=True, add_completion=False
)


def _known_format(value: str) -> str:
    # Checked before anything is done: `keys create -f jsn` made the key and printed it
    # as a table, to a script that could not read it back.
    if value not in ("table", "json"):
        raise typer.BadParameter(f"unknown format {value!r} (table or json)")
    return value


Format = Annotated[
    str, typer.Option("--format", "-f", help="table or json.", callback=_known_format)
]


def _when(stamp: object) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp))


def _usd(amount: object) -> str:
    return f"${amount:,.2f}" if isinstance(amount, int | float) else "-"


@keys_app.command()
def create(
    team: Annotated[str, typer.Option(help="Team the key's calls are attributed to.")],
    budget_usd: Annotated[
        float | None,
        typer.Option(
            "--budget-usd",
            help="Spending limit in USD per period (held exactly per worker process; with "
            "several workers a burst can pass it within one sync window: docs/ledger.md).",
        ),
    ] = None,
    period: Annotated[str, typer.Option(help="Budget period: day, week, month or total.")] = (
        "month"
    ),
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    output_format: Format = "table",
    config: ConfigPath = None,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    try:
        wanted = check_key_request(team, name, budget_usd, period)
    except ValueError as exc:
        stderr().print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    _, (record, key) = run_on_ledger(
        config, lambda _cfg, connection: issue_key(connection, wanted, time.time()), create=True
    )
    if output_format == "json":
        typer.echo(orjson.dumps({"key": key, **key_info(record, 0.0)}).decode())
        return
    budget = (
        f"budget {_usd(record.budget_usd)} per {record.period}"
        if record.budget_usd is not None and record.period != "total"
        else f"budget {_usd(record.budget_usd)} in total"
        if record.budget_usd is not None
        else "no budget"
    )
    # The secret first: it is shown only this once, so nothing may fail before it.
    typer.echo(key)
    stderr().print(
        f"created virtual key [bold]{escape(record.key_id)}[/] for team "
        f"{escape(str(record.team))} ({budget})",
        highlight=False,
    )
    stderr().print("[yellow]store it now: it is shown only this once[/]")


@keys_app.command("list")
def list_command(output_format: Format = "table", config: ConfigPath = None) -> None:
    """List keys with what each spent in its current period."""
    _, keys = run_on_ledger(config, lambda _cfg, connection: list_keys(connection, time.time()))
    if output_format == "json":
        typer.echo(orjson.dumps({"keys": keys}).decode())
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="virtual keys")
    for column in ("id", "team", "name", "budget", "period", "spent", "created", "status"):
        table.add_column(column)
    for entry in keys:
        # Text, not a markup string: teams and names are whatever their creator typed.
        table.add_row(
            Text(str(entry["id"])),
            Text(str(entry["team"] or "-")),
            Text(str(entry["name"] or "-")),
            _usd(entry["budget_usd"]),
            Text(str(entry["period"])),
            _usd(entry["spent_usd"]),
            _when(entry["created_at"]),
            "active" if entry["active"] else f"revoked {_when(entry['revoked_at'])}",
        )
    stdout().print(table)


@keys_app.command()
def revoke(
    key: Annotated[
        str, typer.Argument(help="The key's id (as `keys list` shows it), or the whole key.")
    ],
    config: ConfigPath = None,
) -> None:
    """Revoke a key: calls with it are refused from the gateway's next sync on."""
    key_id, named = key_reference(key)
    # No `create`: a ledger that does not exist holds no key to revoke.
    _, record = run_on_ledger(
        config, lambda _cfg, connection: revoke_key(connection, key_id, time.time())
    )
    if record is None:
        stderr().print(f"[red]no virtual key {escape(named)}[/]", highlight=False)
        raise typer.Exit(1)
    stderr().print(
        f"revoked virtual key {escape(record.key_id)} (team {escape(str(record.team))})",
        highlight=False,
    )
