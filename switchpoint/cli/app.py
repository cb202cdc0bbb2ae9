"""`switchpoint`: serve the gateway, check a config, explain a routing decision, report
cost per outcome, manage virtual keys."""

from __future__ import annotations

import typer

from switchpoint.cli.check import check
from switchpoint.cli.demo import demo
from switchpoint.cli.keys import keys_app
from switchpoint.cli.report import report
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
app.command()(report)
app.add_typer(keys_app)


def main() -> None:
    app()
