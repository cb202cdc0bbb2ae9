"""In-process routing decisions per second (bench/routing_micro.py), in a process of its
own pinned to the system-under-test CPU and run in the switchpoint checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.session import Session
from bench.targets import cpu_arg

NAME = "routing"
# Not a server: its own column, whichever target the goals are checked against.
COLUMN = "in-process"


def run(session: Session, fn: str, root: Path) -> None:
    seconds = session.duration(1.0, 3.0)
    for repeat in range(session.repeats):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.routing_micro", "--fn", fn,
             "--seconds", str(seconds), "--cpu", cpu_arg(session.sut_cpus)],
            capture_output=True, text=True, cwd=root, timeout=120, check=False,
            env=_env(root),
        )
        if proc.returncode != 0:
            session.console.print(f"[yellow]routing: {fn} failed: "
                                  f"{proc.stderr.strip().splitlines()[-1:]}[/]")
            session.skipped[f"routing ({fn})"] = proc.stderr.strip()[-300:]
            return
        doc = json.loads(proc.stdout)
        session.records.append({"label": f"routing #{repeat + 1}", "result": doc})
        scenario = f"decide() via {fn}"
        session.figures.record(NAME, scenario, "decisions/s", COLUMN, repeat,
                               float(doc["per_s"]), unit="/s", better="higher")
        session.figures.record(NAME, scenario, "us/decision", COLUMN, repeat,
                               float(doc["us_per_decision"]), unit="us")


def _env(root: Path) -> dict[str, str]:
    import os

    bench_root = Path(__file__).resolve().parents[2]
    paths = [str(root), str(bench_root)]
    return {**os.environ, "PYTHONPATH": ":".join(paths)}
