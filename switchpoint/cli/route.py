"""`switchpoint route`: the routing decision for a workload, size and budget."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from switchpoint.cli.config_option import ConfigPath, load_or_exit
from switchpoint.errors import GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ingress.route_endpoint import decision_body


def route(
    workload: Annotated[str, typer.Option(help="Workload profile name (or 'auto').")] = "auto",
    tokens: Annotated[int, typer.Option(min=0, help="Estimated context tokens.")] = 0,
    budget: Annotated[float, typer.Option(min=0.0, max=1.0, help="Budget constraint 0-1.")] = 1.0,
    config: ConfigPath = None,
    check_keys: Annotated[
        bool, typer.Option(help="Treat providers whose API key is not set as unavailable.")
    ] = False,
) -> None:
    """Print the routing decision as JSON without calling any provider; exit 1 if no
    configured model can hold the context."""
    cfg = load_or_exit(config)
    gateway = Gateway(cfg, assume_available=not check_keys)
    body = {
        "workload": None if workload == "auto" else workload,
        "estimated_context_tokens": tokens,
        "budget": budget,
    }
    try:
        result = decision_body(
            gateway, body, workload_header=None, budget_header=None, tokens_header=None
        )
    except GatewayError as error:
        typer.echo(
            orjson.dumps(
                {"error": {"type": error.kind, "message": error.message}},
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        raise typer.Exit(1) from None
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
