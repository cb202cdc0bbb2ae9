"""Opening the configured ledger from a command (`report`, `keys`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

from switchpoint.cli.config_option import load_or_exit
from switchpoint.config.schema import Config
from switchpoint.ledger.database import DATABASE_ERRORS, Connection
from switchpoint.ledger.ledger import Ledger
from switchpoint.ledger.store import LedgerUnavailable

T = TypeVar("T")
err = Console(stderr=True)
_LEDGER_ERRORS: tuple[type[BaseException], ...] = (LedgerUnavailable, *DATABASE_ERRORS)


def run_on_ledger(
    config_path: Path | None, operation: Callable[[Config, Connection], T]
) -> tuple[Config, T]:
    """Load the configuration as `serve` does and run `operation` on its ledger; exit 1
    with a readable message when the database cannot be reached."""
    config = load_or_exit(config_path)
    if not config.ledger.enabled:
        err.print("[red]the ledger is disabled in this configuration (ledger.enabled: false)[/]")
        raise typer.Exit(2)
    ledger = Ledger(config.ledger)
    try:
        return config, ledger.store.run(lambda connection: operation(config, connection))
    except _LEDGER_ERRORS as exc:
        err.print(f"[red]ledger {ledger.describe()} is unavailable:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        ledger.store.close()
