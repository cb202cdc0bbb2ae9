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
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from switchpoint.url_redaction import redact_url

_SPARK = "▁▂▃▄▅▆▇█"
NA = "-"
_STATE_STYLE = {"closed": "green", "half_open": "yellow", "open": "bold red"}


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


def sparkline(values: list[float | None], width: int = 30) -> str:
    tail = values[-width:]
    present = [v for v in tail if v is not None]
    top = max(present, default=0.0)
    if top <= 0:
        return " " * (width - len(tail)) + "".join("▁" if v is not None else " " for v in tail)
    return " " * (width - len(tail)) + "".join(
        " " if v is None else _SPARK[min(len(_SPARK) - 1, int(v / top * (len(_SPARK) - 1)))]
        for v in tail
    )


def _usd(value: float | None) -> str:
    if value is None:
        return NA
    return f"${value:.5f}" if value < 0.01 else f"${value:.3f}"


def _pct(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    if value is None:
        return NA
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _clock(epoch: float | None) -> str:
    return NA if epoch is None else time.strftime("%H:%M:%S", time.localtime(epoch))


def render(s: dict[str, Any], url: str) -> RenderableType:
    bucket_s = s["bucket_s"]
    rps = s["traffic"]["rps"]
    recent_requests = sum(rps[-30:]) * bucket_s
    errors = sum(s["errors"][-30:])
    open_breakers = sum(1 for t in s["breakers"]["targets"] if t["state"] != "closed")
    cost = sum(row["cost_usd"] for row in s["costs"]["since_start"])
    header = Text.assemble(
        ("switchpoint ", "bold"),
        (f"v{s['version']} ", "dim"),
        (f"{redact_url(url)} ", "cyan"),
        (f"up {int(s['uptime_s'])} s   ", "dim"),
        f"req/s {sum(rps[-2:]) / 2:.1f}   ",
        f"in flight {NA if s['in_flight'] is None else s['in_flight']}   ",
        # Absent from an older gateway's snapshot.
        f"shed {NA if s.get('shed') is None else s['shed']}   ",
        f"upstream errors(5m) {_pct(errors / recent_requests) if recent_requests else NA}   ",
        f"fallback(5m) {_pct(s['fallback']['rate_now'])}   cost {_usd(cost)}   ",
        ("open breakers ", ""),
        (str(open_breakers), "bold red" if open_breakers else "green"),
    )

    traffic = Table(title="traffic (req/s, last 5 min)", expand=True, title_justify="left")
    traffic.add_column("workload")
    traffic.add_column("now", justify="right")
    traffic.add_column("trend")
    for workload, series in s["traffic"]["by_workload"].items():
        traffic.add_row(Text(workload), f"{series[-1]:.1f}", sparkline(series))

    latency = Table(
        title="provider latency (successful attempts, 5 min)", expand=True, title_justify="left"
    )
    for column in ("provider", "p50", "p95", "attempts", "p95 trend"):
        latency.add_column(
            column, justify="left" if column in ("provider", "p95 trend") else "right"
        )
    for provider, data in s["latency"].items():
        latency.add_row(
            Text(provider),
            _ms(data["p50_now_ms"]),
            _ms(data["p95_now_ms"]),
            str(data["attempts_now"]),
            sparkline(data["p95_ms"]),
        )

    breakers = Table(title="circuit breakers", expand=True, title_justify="left")
    for column in ("target", "state", "since"):
        breakers.add_column(column)
    for target in s["breakers"]["targets"]:
        state = target["state"]
        breakers.add_row(
            Text(f"{target['provider']}/{target['model']}"),
            Text(state.replace("_", "-"), style=_STATE_STYLE.get(state, "")),
            _clock(target["since"]),
        )
    for t in s["breakers"]["transitions"][:4]:
        breakers.add_row(
            Text(f"  {_clock(t['at'])} {t['provider']}/{t['model']}", style="dim"),
            Text(f"{t['from']} → {t['to']}", style=_STATE_STYLE.get(t["to"], "")),
            Text(t["reason"], style="dim"),
        )

    fallbacks = Table(title="fallbacks (5 min)", expand=True, title_justify="left")
    fallbacks.add_column("reason")
    fallbacks.add_column("count", justify="right")
    for reason, count in s["fallback"]["reasons"].items():
        fallbacks.add_row(Text(reason), str(count))
    if not s["fallback"]["reasons"]:
        fallbacks.add_row(Text("none", style="dim"), "")

    costs = Table(title="cost since start", expand=True, title_justify="left")
    for column in ("workload", "model", "requests", "ok", "USD", "USD/ok"):
        costs.add_column(column, justify="right" if column not in ("workload", "model") else "left")
    for row in s["costs"]["since_start"]:
        costs.add_row(
            Text(row["workload"]),
            Text(row["model"]),
            str(row["requests"]),
            str(row["ok"]),
            _usd(row["cost_usd"]),
            _usd(row["cost_per_ok_usd"]),
        )
    ledger = s.get("ledger")
    if not ledger:
        ledger_view: RenderableType = Text(
            "ledger: not attached (cost per completed outcome needs it)", style="dim"
        )
    else:
        outcomes = Table(
            title="cost per completed outcome (ledger)", expand=True, title_justify="left"
        )
        for column in ("workload", "tasks", "completed", "success", "USD", "USD/outcome"):
            outcomes.add_column(column, justify="left" if column == "workload" else "right")
        for group in ledger.get("by_workload", []):
            outcomes.add_row(
                Text(str(group["key"])),
                str(group["tasks"]),
                str(group["completed_outcomes"]),
                _pct(group["success_rate"]),
                _usd(group["cost_usd"]),
                _usd(group["cost_per_completed_outcome"]),
            )
        state = "writing" if ledger.get("available") else "UNAVAILABLE"
        note = Text(
            f"ledger: {ledger.get('database', '')} {state}, queue {ledger.get('queue_depth')}, "
            f"dropped {ledger.get('dropped')}"
            + (f" - {ledger['error']}" if ledger.get("error") else "")
            + (" (stale)" if ledger.get("stale") else ""),
            style="dim" if ledger.get("available") and not ledger.get("error") else "red",
        )
        ledger_view = Group(outcomes, note)

    recent = Table(title="recent routing decisions", expand=True, title_justify="left")
    for column in ("time", "workload", "served by", "why", "status", "latency"):
        recent.add_column(column, overflow="fold")
    for call in s["recent"][:8]:
        why = ", ".join(call["rules"] + call["fallback_reasons"]) or call["rationale"]
        status = (
            Text("ok", style="green")
            if call["status"] == "ok"
            else Text(f"{call['http_status']} {call['status']}", style="red")
        )
        recent.add_row(
            _clock(call["at"]),
            Text(call["workload"] or NA),
            Text(f"{call['model']} ({call['provider']})"),
            Text(why),
            status,
            _ms(call["latency_ms"]),
        )

    grid = Table.grid(expand=True)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(traffic, latency)
    grid.add_row(breakers, fallbacks)
    return Group(Panel(header), grid, costs, ledger_view, recent)


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
    _check_url(url)
    key = os.environ.get(key_env) or None
    console = Console()
    if once:
        try:
            console.print(render(fetch_snapshot(url, key), url))
        except SnapshotError as error:
            Console(stderr=True).print(f"[red]{escape(str(error))}[/]", highlight=False)
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
