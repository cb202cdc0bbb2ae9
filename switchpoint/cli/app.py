"""`switchpoint`: serve the gateway, check a config, explain a routing decision."""

from __future__ import annotations

import typer

from switchpoint.cli.check import check
from switchpoint.cli.demo import demo
from switchpoint.cli.route import route
from switchpoint.cli.serve import serve
from switchpoint.cli.top import top

app = typer.Typer(
    name="switchpoint",
    help="Workload-aware LLM routing gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(check)
app.command()(route)
app.command()(top)
app.command()(demo)


def main() -> None:
    app()
