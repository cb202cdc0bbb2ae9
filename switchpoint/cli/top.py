"""`switchpoint top`: the dashboard's live picture in a terminal, for a shell on the box.

Polls the gateway's `/ui/api/snapshot` (the same data the web dashboard draws) and
redraws with rich. The master key, when the gateway has one, is read from the
environment (never from the command line, where `ps` would show it).
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any

import orjson
import typer

from switchpoint.cli.terminal import escape, stderr, stdout
from switchpoint.url_redaction import redact_url


class SnapshotError(Exception):
    pass


def fetch_snapshot(url: str, key: str | None, timeout_s: float = 5.0) -> dict[str, Any]:
    try:
        request = urllib.request.Request(url.rstrip("/") + "/ui/api/snapshot")
        if key:
            request.add_header("authorization", f"Bearer {key}")
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data: dict[str, Any] = orjson.loads(response.read())
            return data
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise SnapshotError(
                "the gateway needs its master key: set it in the environment variable "
                "named by --key-env"
            ) from None
        if error.code == 404:
            raise SnapshotError("this gateway does not serve the dashboard's data") from None
        raise SnapshotError(f"the gateway answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SnapshotError(f"cannot reach {redact_url(url)}: {reason}") from None
    except orjson.JSONDecodeError:
        raise SnapshotError(f"{redact_url(url)} did not answer with the dashboard's JSON") from None
    except ValueError as error:
        # urllib's complaint about a URL it cannot use (`top` checks the scheme first;
        # this is what is left, such as an unbalanced IPv6 bracket or a bad port).
        raise SnapshotError(f"cannot use the URL {redact_url(url)}: {error}") from None


def _check_url(url: str) -> None:
    """A usage error, not urllib's traceback, for a URL that cannot reach a gateway."""
    try:
        parts = urllib.parse.urlsplit(url)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        usable = False
    if not usable:
        raise typer.BadParameter(
            f"{redact_url(url)!r} is not a usable http:// or https:// URL "
            "(for example http://127.0.0.1:8080)",
            param_hint="'--url'",
        )
    if parts.username is not None or parts.password is not None:
        # urllib would take `user:pw@host` for a host name and fail to resolve it.
        raise typer.BadParameter(
            f"{redact_url(url)!r} holds credentials, which are not sent: the master key "
            "comes from the environment variable named by --key-env",
            param_hint="'--url'",
        )


def top(
    url: Annotated[str, typer.Option(help="The gateway's base URL.")] = "http://127.0.0.1:8080",
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes.")] = 2.0,
    key_env: Annotated[
        str, typer.Option(help="Environment variable holding the master key.")
    ] = "SWITCHPOINT_MASTER_KEY",
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
) -> None:
    """Watch a running gateway: traffic, latency, breakers, fallbacks, cost, decisions."""
    from rich.console import RenderableType
    from rich.live import Live
    from rich.panel import Panel
    from rich.text import Text

    from switchpoint.cli.top_view import render

    _check_url(url)
    key = os.environ.get(key_env) or None
    console = stdout()
    if once:
        try:
            console.print(render(fetch_snapshot(url, key), url))
        except SnapshotError as error:
            stderr().print(f"[red]{escape(str(error))}[/]", highlight=False)
            raise typer.Exit(1) from None
        return
    with Live(console=console, screen=console.is_terminal, auto_refresh=False) as live:
        try:
            while True:
                try:
                    frame: RenderableType = render(fetch_snapshot(url, key), url)
                except SnapshotError as error:
                    frame = Panel(Text(str(error), style="red"), title="switchpoint top")
                    if "master key" in str(error):
                        live.update(frame, refresh=True)
                        raise typer.Exit(1) from None
                live.update(frame, refresh=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
