"""Opening the configured ledger from a command (`report`, `keys`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from switchpoint.cli.config_option import load_or_exit
from switchpoint.cli.terminal import escape, stderr
from switchpoint.config.schema import Config
from switchpoint.ledger.database import DATABASE_ERRORS, Connection
from switchpoint.ledger.ledger import Ledger
from switchpoint.ledger.store import LedgerUnavailable

T = TypeVar("T")
_LEDGER_ERRORS: tuple[type[BaseException], ...] = (LedgerUnavailable, *DATABASE_ERRORS)


def run_on_ledger(
    config_path: Path | None,
    operation: Callable[[Config, Connection], T],
    *,
    create: bool = False,
) -> tuple[Config, T]:
    """Load the configuration as `serve` does and run `operation` on its ledger; exit 1
    with a readable message when the database cannot be reached.

    A SQLite ledger that does not exist yet is created only with `create` (a command
    that writes, as `serve` does); a command that only reads fails instead, so that a
    mistyped or relative path is not taken for an empty ledger ("no traffic")."""
    config = load_or_exit(config_path)
    if not config.ledger.enabled:
        stderr().print(
            "[red]the ledger is disabled in this configuration (ledger.enabled: false)[/]"
        )
        raise typer.Exit(2)
    ledger = Ledger(config.ledger)
    new_file = _missing_sqlite_file(ledger)
    if new_file is not None and not create:
        _no_ledger(new_file, config.ledger.url)
    try:
        result = ledger.store.run(lambda connection: operation(config, connection))
    except _LEDGER_ERRORS as exc:
        stderr().print(
            f"[red]ledger {escape(ledger.describe())} is unavailable:[/] {escape(str(exc))}",
            highlight=False,
        )
        raise typer.Exit(1) from None
    finally:
        ledger.store.close()
    if new_file is not None:
        # Said, so that a key written to a mistyped path is noticed now, not at its 401.
        stderr().print(f"created a new ledger at {escape(str(new_file))}", highlight=False)
    return config, result


def _missing_sqlite_file(ledger: Ledger) -> Path | None:
    if ledger.location.backend != "sqlite":
        return None
    path = Path(ledger.location.target)
    return None if path.exists() else path


def _no_ledger(path: Path, url: str) -> NoReturn:
    # A relative path is the usual culprit (run from another directory than `serve`).
    relative = not url.partition(":///")[2].startswith("/")
    where = f" (ledger.url {url} is relative to the working directory)" if relative else ""
    stderr().print(
        f"[red]no ledger at {escape(str(path))}[/]{escape(where)}; `serve` or `keys create` "
        "creates it",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)
