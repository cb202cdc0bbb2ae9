"""`switchpoint route`: the routing decision for a workload, size and budget (or for a
whole chat request read from a file), with its context decision."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from switchpoint.cli.config_option import ConfigPath, load_or_exit
from switchpoint.errors import GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ingress.route_endpoint import decision_body


def route(
    workload: Annotated[str, typer.Option(help="Workload profile name (or 'auto').")] = "auto",
    tokens: Annotated[
        int | None,
        typer.Option(min=0, help="Estimated context tokens (a bare count: nothing to summarize)."),
    ] = None,
    budget: Annotated[float, typer.Option(min=0.0, max=1.0, help="Budget constraint 0-1.")] = 1.0,
    strategy: Annotated[
        str | None,
        typer.Option(help="Summarization strategy for this request: hierarchical, none, reject."),
    ] = None,
    request: Annotated[
        Path | None,
        typer.Option(
            "--request",
            exists=True,
            dir_okay=False,
            help="A chat request body (JSON) to count and plan, as the gateway would.",
        ),
    ] = None,
    protocol: Annotated[
        str, typer.Option(help="The request file's protocol: openai or anthropic.")
    ] = "openai",
    config: ConfigPath = None,
    check_keys: Annotated[
        bool, typer.Option(help="Treat providers whose API key is not set as unavailable.")
    ] = False,
) -> None:
    """Print the routing decision as JSON without calling any provider; exit 1 if no
    configured model can hold the context, or the strategy rejects it."""
    cfg = load_or_exit(config)
    gateway = Gateway(cfg, assume_available=not check_keys)
    body: dict[str, Any]
    if request is not None:
        try:
            loaded = orjson.loads(request.read_bytes())
        except orjson.JSONDecodeError as exc:
            _fail("invalid_request", f"{request} is not valid JSON: {exc}")
        if not isinstance(loaded, dict) or "messages" not in loaded:
            _fail("invalid_request", f"{request} must hold a chat request (with 'messages')")
        body = loaded
        body["protocol"] = protocol
        if workload != "auto":
            body["workload"] = workload
    else:
        body = {"workload": None if workload == "auto" else workload}
    if tokens is not None:
        body["estimated_context_tokens"] = tokens
    elif request is None:
        body["estimated_context_tokens"] = 0
    body["budget"] = budget
    if strategy is not None:
        body["strategy"] = strategy
    try:
        result = asyncio.run(
            decision_body(
                gateway, body, workload_header=None, budget_header=None, tokens_header=None
            )
        )
    except GatewayError as error:
        _fail(error.kind, error.message)
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if result["context_action"] == "rejected":
        raise typer.Exit(1)


def _fail(kind: str, message: str) -> NoReturn:
    error = {"error": {"type": kind, "message": message}}
    typer.echo(orjson.dumps(error, option=orjson.OPT_INDENT_2).decode())
    raise typer.Exit(1)
