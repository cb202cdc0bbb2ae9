"""The CLI's consoles, made on first use.

Every command is registered when the CLI starts, so whatever their modules import at
the top, `serve` (and each of its workers) pays for at start-up: rich's 55 modules were
about a third of it on a slow VM (docs/performance.md), for output `serve` never
prints. Commands import rich's pieces where they draw with them, and print through
these.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@cache
def stdout() -> Console:
    from rich.console import Console

    return Console()


@cache
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def escape(text: str) -> str:
    """`text` shown as it is, never read as rich markup."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)
