"""Run the benchmarks: python -m bench.run [--quick] [--only latency,throughput,...]
[--targets direct,aiohttp_proxy,switchpoint,litellm] [--repeats N]

Starts the fake upstream and each target pinned to their cores, measures each target
in each measurement (every repeat measures every target, in a rotating order), prints one
table and writes bench/results/<timestamp>.json. A target that cannot start is reported
as skipped. All child processes are stopped on exit and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from bench import noise, procfs, procs, report, targets, wrk
from bench.measurements import cores, footprint, latency, routing, sizes, streaming, throughput
from bench.routing_micro import DEFAULT_FN
from bench.session import Session, cpu_layout

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
MEASUREMENTS = ("latency", "throughput", "streaming", "size", "cores", "footprint", "routing")
TARGETS = ("direct", "floor_proxy", "aiohttp_proxy", "switchpoint", "litellm")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    except OSError:
        return ""


def _wrk_version() -> str:
    if not wrk.available():
        return "not installed"
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


def _factory(args: argparse.Namespace, run_dir: Path, upstream_port: Callable[[], int]
             ) -> Callable[[str, int, int, set[int]], targets.Target]:
    customs = {spec.partition("=")[0].strip(): spec for spec in args.custom}

    def make(name: str, port: int, workers: int, cpus: set[int]) -> targets.Target:
        up = upstream_port()
        if name == "aiohttp_proxy":
            return targets.aiohttp_proxy(port, up, cpus, workers)
        if name == "floor_proxy":
            return targets.floor_proxy(port, up, cpus, workers)
        if name == "litellm":
            return targets.litellm(port, up, cpus, run_dir, workers)
        if name == "switchpoint":
            return targets.switchpoint(port, up, cpus, run_dir, args.switchpoint_root, workers,
                                       server=args.switchpoint_server)
        if name in customs:
            return targets.custom(customs[name], port, up, cpus)
        raise ValueError(f"unknown target {name!r}")

    return make


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="short runs: checks the harness, not final figures")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated; direct is always measured")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--goal-target", default="switchpoint",
                        help="the target whose figures are checked against the goals")
    parser.add_argument("--switchpoint-root", type=Path, default=REPO_ROOT,
                        help="the checkout whose switchpoint is measured")
    parser.add_argument("--switchpoint-server", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="a `server:` setting for the measured switchpoint (repeatable), "
                             "e.g. max_in_flight=1200 to measure load shedding")
    parser.add_argument("--routing-fn", default=DEFAULT_FN,
                        help="module:factory for the routing micro-benchmark")
    parser.add_argument("--custom", action="append", default=[],
                        help="NAME=COMMAND with {port} {upstream_url} {upstream_port} {cpu}; "
                             "add NAME to --targets")
    parser.add_argument("--noisy-retries", type=int, default=1,
                        help="measure a run again when other programs loaded the machine")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    settings: dict[str, object] = {}
    for setting in args.switchpoint_server:
        key, sep, value = setting.partition("=")
        if not sep or not key.strip():
            parser.error(f"--switchpoint-server wants KEY=VALUE, not {setting!r}")
        settings[key.strip()] = yaml.safe_load(value)
    args.switchpoint_server = settings
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = set(args.only) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    names = [t.strip() for t in args.targets.split(",") if t.strip()]
    args.targets = ["direct"] + [n for n in names if n != "direct"]
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    args.switchpoint_root = args.switchpoint_root.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Piped output (CI logs, tee) gets a wide table rather than rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    procs.install_cleanup()
    load_cpus, sut_cpus = cpu_layout()
    # The orchestrator only waits on its children; keep it off the system-under-test core.
    os.sched_setaffinity(0, load_cpus)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    run_dir = args.results_dir / f"{stamp}.logs"
    run_dir.mkdir(parents=True, exist_ok=True)
    if len(os.sched_getaffinity(0) | load_cpus | sut_cpus) < 2 or load_cpus == sut_cpus:
        console.print("[yellow]one CPU only: load and target share it; figures are not "
                      "comparable with the goals[/]")

    console.print(f"checking the machine is idle (load CPU {sorted(load_cpus)}, "
                  f"target CPU {sorted(sut_cpus)}) ...")
    idle = noise.idle_check(2.0)
    console.print(f"  other programs use {idle.foreign_cores:.2f} cores now")

    origins: list[str] = []
    if "switchpoint" in args.targets or "routing" in args.only:
        origins = targets.switchpoint_origin(args.switchpoint_root)
        foreign = [o for o in origins
                   if o.split()[-1] != "-" and not o.split()[-1].startswith(
                       str(args.switchpoint_root))]
        for line in foreign:
            console.print(f"[bold yellow]switchpoint module from outside "
                          f"{args.switchpoint_root}: {line}[/]")

    session_ref: list[Session] = []
    session = Session(
        quick=args.quick, repeats=args.repeats, run_dir=run_dir, console=console,
        factory=_factory(args, run_dir, lambda: session_ref[0].upstream_port),
        load_cpus=load_cpus, sut_cpus=sut_cpus, goal_target=args.goal_target,
        noisy_retries=max(0, args.noisy_retries),
    )
    session_ref.append(session)
    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    interrupted = False
    try:
        session.start_upstream()
        console.print(f"fake upstream on :{session.upstream_port}")
        session.start_targets(args.targets)
        plan: dict[str, Callable[[], None]] = {
            "latency": lambda: latency.run(session),
            "throughput": lambda: throughput.run(session),
            "streaming": lambda: streaming.run(session),
            "size": lambda: sizes.run(session),
            "cores": lambda: cores.run(session),
            "footprint": lambda: footprint.run(session),
            "routing": lambda: routing.run(session, args.routing_fn, args.switchpoint_root),
        }
        for name in args.only:
            console.rule(name)
            try:
                plan[name]()
            except (procs.StartError, RuntimeError) as exc:
                console.print(f"[red]{name} stopped: {exc}[/]")
                session.skipped[f"measurement {name}"] = str(exc).splitlines()[0]
    except KeyboardInterrupt:
        interrupted = True
        console.print("[yellow]interrupted: reporting what was measured[/]")
    finally:
        procs.stop_all()

    verdict = report.noise_verdict(session, idle)
    report.print_report(console, session, verdict)
    meta: dict[str, Any] = {
        "started": started.isoformat(),
        "wall_s": time.perf_counter() - t0,
        "command": [sys.executable, "-m", "bench.run", *(argv or sys.argv[1:])],
        "quick": args.quick,
        "repeats": args.repeats,
        "interrupted": interrupted,
        "measurements": args.only,
        "goal_target": args.goal_target,
        "switchpoint_root": str(args.switchpoint_root),
        "switchpoint_modules": origins,
        "git": {"commit": _git("rev-parse", "HEAD"), "branch": _git("branch", "--show-current"),
                "dirty": bool(_git("status", "--porcelain"))},
        "machine": {
            "cpus": sorted(os.sched_getaffinity(0) | load_cpus | sut_cpus),
            "load_cpus": sorted(load_cpus),
            "target_cpus": sorted(sut_cpus),
            "cpu_model": procfs.cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "wrk": _wrk_version(),
        },
    }
    out = args.results_dir / f"{stamp}.json"
    out.write_text(json.dumps(report.to_json(session, verdict, meta), indent=1, default=str,
                              allow_nan=False))
    console.print(f"results: {out}  (logs: {run_dir})")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
