"""What `switchpoint top` draws: the dashboard's snapshot as rich renderables (imported
when the command runs, so that other commands, `serve` above all, do not load rich)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from switchpoint.url_redaction import redact_url

_SPARK = "▁▂▃▄▅▆▇█"
NA = "-"
_STATE_STYLE = {"closed": "green", "half_open": "yellow", "open": "bold red"}


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
