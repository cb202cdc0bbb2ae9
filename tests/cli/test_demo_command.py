"""`switchpoint demo`: offline, keyless, and it tells the whole story."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_offline_and_reports_routing_breakers_and_outcomes(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "switchpoint", "demo", "--seconds", "4", "--rate", "40"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "160/160 requests answered" in out
    assert "who served what" in out and "why requests moved" in out
    assert "context_guard" in out and "budget_fallback" in out
    # The outage opened the anthropic breaker, and traffic moved elsewhere meanwhile.
    assert "closed -> open" in out
    assert "breaker_open" in out or "overloaded" in out
    assert "cost per completed outcome" in out
    assert "Traceback" not in result.stderr
    # No ledger or other file is left behind in the working directory.
    assert list(tmp_path.iterdir()) == [] or all(p.name.startswith(".") for p in tmp_path.iterdir())


def test_demo_kept_serving_raises_its_descriptor_limit_as_serve_does(tmp_path: Path) -> None:
    import resource
    import signal
    import socket
    import time

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = min(256, hard // 2)  # started low, with room to raise it
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # TMPDIR: the demo's ledger directory is left behind when it is killed.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "switchpoint", "demo", "--serve", "--port", str(port),
         "--seconds", "3", "--rate", "5"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)),
    )  # fmt: skip
    try:
        raised = soft
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and demo.poll() is None and raised != hard:
            limits = Path(f"/proc/{demo.pid}/limits").read_text().splitlines()
            line = next(row for row in limits if row.startswith("Max open files"))
            raised = int(line.split()[3])  # the soft limit
            time.sleep(0.1)
        assert raised == hard
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(30)


def test_demo_kept_serving_on_a_port_in_use_says_so_and_exits(tmp_path: Path) -> None:
    import socket

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "switchpoint", "demo", "--serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
    # Its ledger directory is not left behind.
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_a_port_that_is_not_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchpoint", "demo", "--serve", "--port", "70000"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--port" in result.stderr and "Traceback" not in result.stderr
