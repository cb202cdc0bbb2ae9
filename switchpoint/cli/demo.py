"""`switchpoint demo`: the gateway on simulated vendors, with traffic and an outage."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter, defaultdict
from typing import Annotated

import typer

from switchpoint.cli.terminal import stderr, stdout
from switchpoint.demo.driver import DemoResult, drive, report_outcomes
from switchpoint.demo.scenario import OUTAGE_PROVIDER, demo_config, mixed_workload
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.providers.simulated import SimulatedAdapter
from switchpoint.server.background import BackgroundServer
from switchpoint.server.open_files import raise_open_file_limit


class _Recorder(Listener):
    """Collects what the gateway did, from its own event bus."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.transitions: list[tuple[float, str, str, str, str]] = []
        self.started = time.monotonic()

    def on_call(self, call: CallRecord) -> None:
        self.calls.append(call)

    def on_breaker(self, provider: str, model: str, old: str, new: str, reason: str) -> None:
        self.transitions.append(
            (time.monotonic() - self.started, f"{provider}/{model}", old, new, reason)
        )


def demo(
    serve: Annotated[bool, typer.Option("--serve", help="Keep the gateway running after.")] = False,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port for --serve.")] = 8080,
    rate: Annotated[float, typer.Option(min=1, help="Requests per second.")] = 40.0,
    seconds: Annotated[float, typer.Option(min=3, help="Length of the traffic run.")] = 12.0,
) -> None:
    """Run the gateway offline on simulated vendors and drive a mixed workload through it,
    including an outage of one vendor; show what served what, and the breaker's story."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if serve:
        # Kept running, it serves like `serve` does: with the same descriptor limit.
        raise_open_file_limit()
    ledger_dir = tempfile.mkdtemp(prefix="switchpoint-demo-")
    config = demo_config(port=port if serve else 0, ledger_url=f"sqlite:///{ledger_dir}/ledger.db")
    try:
        server = BackgroundServer(config, port=port if serve else 0).start()
    except OSError as exc:
        shutil.rmtree(ledger_dir, ignore_errors=True)
        stderr().print(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}")
        raise typer.Exit(1) from None
    assert server.gateway is not None
    recorder = _Recorder()
    server.gateway.bus.subscribe(recorder)
    outage = server.gateway.adapters[OUTAGE_PROVIDER]
    assert isinstance(outage, SimulatedAdapter)

    total = int(rate * seconds)
    requests, tasks = mixed_workload(total)
    down_at, up_at = total * 3 // 12, total * 6 // 12
    stdout().print(
        f"[bold]switchpoint demo[/] gateway on {server.base_url} with simulated vendors; "
        f"{total} requests at {rate:g}/s; [yellow]{OUTAGE_PROVIDER} goes down[/] for "
        f"requests {down_at}-{up_at}."
    )
    results: list[DemoResult] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stdout(),
    ) as progress:
        task = progress.add_task("traffic", total=total)

        def on_result(index: int, result: DemoResult) -> None:
            results.append(result)
            phase = "outage" if outage.down else "healthy"
            progress.update(
                task,
                advance=1,
                description=f"traffic [{'red' if outage.down else 'green'}]{phase}[/]",
            )
            if index + 1 == down_at:
                server.call(lambda: setattr(outage, "down", True))
            elif index + 1 == up_at:
                server.call(lambda: setattr(outage, "down", False))

        asyncio.run(drive(server.base_url, requests, rate, on_result))
    _report(recorder, results)
    report = asyncio.run(report_outcomes(server.base_url, tasks, wait_s=0.6))
    _outcomes(report, len(tasks))
    failed = [r for r in results if r.status != 200]
    if serve:
        stdout().print(f"\ngateway still running on [bold]{server.base_url}[/] (Ctrl-C to stop)")
        stopped = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        stopped.wait()
    server.stop()
    shutil.rmtree(ledger_dir, ignore_errors=True)
    if failed:
        stdout().print(f"[red]{len(failed)} request(s) failed[/]")
        raise typer.Exit(1)


def _report(recorder: _Recorder, results: list[DemoResult]) -> None:
    from rich.table import Table

    by_workload: dict[str, list[CallRecord]] = defaultdict(list)
    for call in recorder.calls:
        by_workload[call.workload or "?"].append(call)
    served = Table(title="who served what")
    for column in (
        "workload",
        "requests",
        "served by",
        "fallbacks",
        "attempts",
        "p50 ms",
        "tokens in/out",
        "cost USD",
    ):
        served.add_column(column, justify="right" if column != "served by" else "left")
    for workload, calls in sorted(by_workload.items()):
        models = Counter(c.served.model for c in calls if c.served)
        latencies = sorted(c.duration_s * 1000 for c in calls)
        usage_in = sum(c.usage.input_tokens for c in calls)
        usage_out = sum(c.usage.output_tokens for c in calls)
        cost = sum(c.cost_usd or 0.0 for c in calls)
        served.add_row(
            workload,
            str(len(calls)),
            ", ".join(f"{m} x{n}" for m, n in models.most_common()),
            str(sum(1 for c in calls if c.fallback)),
            str(sum(c.upstream_attempts for c in calls)),
            f"{latencies[len(latencies) // 2]:.0f}" if latencies else "-",
            f"{usage_in:,}/{usage_out:,}",
            f"{cost:.4f}",
        )
    stdout().print(served)
    rules = Counter(rule for c in recorder.calls if c.decision for rule in c.decision.rules)
    reasons = Counter(reason for c in recorder.calls for reason in c.fallback_reasons)
    why = Table(title="why requests moved")
    why.add_column("rule or failure")
    why.add_column("count", justify="right")
    for name, count in (rules + reasons).most_common():
        why.add_row(name, str(count))
    stdout().print(why)
    breakers = Table(title="circuit breakers")
    for column in ("t (s)", "target", "transition", "reason"):
        breakers.add_column(column)
    for at, target, old, new, reason in recorder.transitions:
        breakers.add_row(f"{at:.1f}", target, f"{old} -> {new}", reason)
    if not recorder.transitions:
        breakers.add_row("-", "-", "no transitions", "-")
    stdout().print(breakers)
    ok = sum(1 for r in results if r.status == 200)
    stdout().print(f"{ok}/{len(results)} requests answered.")


def _outcomes(report: object, task_count: int) -> None:
    """The ledger's view: what each workload cost per completed outcome."""
    from rich.table import Table

    groups = report.get("groups") if isinstance(report, dict) else None
    table = Table(title=f"cost per completed outcome ({task_count} agent tasks, from the ledger)")
    for column in (
        "workload",
        "requests",
        "tasks",
        "succeeded",
        "success rate",
        "cost USD",
        "USD / outcome",
        "tokens / outcome",
        "fallback rate",
    ):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for group in groups or []:
        per_outcome = group.get("cost_per_completed_outcome")
        tokens = group.get("tokens_per_completed_outcome")
        table.add_row(
            str(group.get("key")),
            str(group.get("requests")),
            str(group.get("tasks")),
            str(group.get("completed_outcomes")),
            f"{group.get('success_rate', 0):.0%}",
            f"{group.get('cost_usd', 0):.4f}",
            f"{per_outcome:.4f}" if isinstance(per_outcome, (int, float)) else "-",
            f"{tokens:,.0f}" if isinstance(tokens, (int, float)) else "-",
            f"{group.get('fallback_rate', 0):.0%}",
        )
    if not groups:
        table.add_row("(the ledger returned no groups)", *[""] * 8)
    stdout().print(table)
