"""The `--workers N` supervisor: it fails fast when workers cannot start, stops a crash
loop, still restarts a worker that dies after having run, and its workers do not
outlive it.

The supervisor installs signal handlers and forks, so each case runs it in a process of
its own: `switchpoint serve` itself, or `run_workers` with a small worker function."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import yaml

from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its (new) parent to reap it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"


def test_serve_with_workers_on_a_port_in_use_exits_at_once(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": {"openai": {"type": "simulated"}},
                "logging": {"access_log": False, "format": "json"},
                "ledger": {"enabled": False},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "switchpoint", "serve", "-c", str(config),
             "--port", str(port), "--workers", "2"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    messages = [
        json.loads(line).get("message", "")
        for line in result.stderr.splitlines()
        if line.startswith("{")
    ]
    assert result.returncode == 1, result.stderr
    assert any(f"cannot listen on 127.0.0.1:{port}" in m for m in messages), messages
    assert any("could not start; stopping" in m for m in messages), messages
    assert not any("restarting" in m for m in messages), messages
    # Start-up (imports, forking) and nothing more: no restart pauses.
    assert elapsed < 15, elapsed


def test_a_worker_that_keeps_dying_is_a_crash_loop_and_stops_the_supervisor() -> None:
    result = run_python(
        """
        import logging, sys, time
        from switchpoint.server import workers
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        workers._RESTART_PAUSE_S = 0.05

        def worker(index):
            if index == 0:
                raise RuntimeError("boom")
            time.sleep(60)

        started = time.monotonic()
        code = workers.run_workers(2, worker)
        print(code, round(time.monotonic() - started, 1))
        """
    )
    code, elapsed = result.stdout.split()
    assert code == "1", result.stderr
    assert float(elapsed) < 10  # the healthy worker was stopped, not waited for
    assert result.stderr.count("exited with 1; restarting") == 4, result.stderr
    assert "exited with 1, 5 times within 30 s: a crash loop; stopping" in result.stderr


def test_a_worker_that_dies_after_running_is_restarted(tmp_path: Path) -> None:
    marker = tmp_path / "died-once"
    result = run_python(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from switchpoint.server import workers
        workers._RESTART_PAUSE_S = 0.05
        marker = Path({str(marker)!r})

        def worker(index):
            if not marker.exists():
                marker.write_text("")
                time.sleep(0.2)  # it ran for a while, then died
                os._exit(9)
            # The replacement is running: end the test with a normal shutdown.
            os.kill(os.getppid(), signal.SIGTERM)
            time.sleep(60)

        print(workers.run_workers(1, worker))
        """
    )
    assert result.stdout.strip() == "0", result.stderr
    assert marker.exists()


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    orphaned = tmp_path / "orphaned"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            f"""
            import os, signal, sys, time
            from switchpoint.server import workers

            def worker(index):
                # As a real worker does: SIGTERM stops it, and its exit path runs.
                signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
                with open({str(pids)!r}, "a") as out:
                    out.write(f"{{os.getpid()}}\\n")
                time.sleep(120)

            def cleanup():
                with open({str(orphaned)!r}, "a") as out:
                    out.write("cleaned\\n")

            workers.run_workers(2, worker, on_orphaned=cleanup)
            """
        )],
        cwd=REPO,
    )  # fmt: skip
    try:
        assert wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, 30)
        children = [int(pid) for pid in pids.read_text().split()]
        supervisor.kill()
        supervisor.wait(10)
        assert wait_until(lambda: not any(alive(pid) for pid in children), 10), children
        # What the killed supervisor would have removed (the shared metrics directory),
        # its orphaned workers do.
        assert orphaned.read_text().split() == ["cleaned", "cleaned"]
    finally:
        for pid in [int(p) for p in pids.read_text().split()] if pids.exists() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_die_with_parent_asks_for_sigterm_and_sees_a_parent_already_gone() -> None:
    result = run_python(
        """
        import ctypes, os
        from switchpoint.server.workers import die_with_parent
        print(die_with_parent(os.getppid()), die_with_parent(os.getppid() + 1_000_000))
        signum = ctypes.c_int()
        ctypes.CDLL(None).prctl(2, ctypes.byref(signum), 0, 0, 0)  # PR_GET_PDEATHSIG
        print(signum.value)
        """
    )
    assert result.stdout.split() == ["True", "False", str(int(signal.SIGTERM))], result.stderr


def test_workers_asked_for_port_0_share_the_one_port_the_kernel_picked(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": {"openai": {"type": "simulated"}},
                "logging": {"access_log": False, "format": "json"},
                "ledger": {"enabled": False},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    argv = [sys.executable, "-m", "switchpoint", "serve", "-c", str(config), "--port", "0",
            "--workers", "2"]  # fmt: skip
    supervisor = subprocess.Popen(argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    listening: list[str] = []
    try:
        assert supervisor.stderr is not None
        for line in supervisor.stderr:
            message = json.loads(line).get("message", "") if line.startswith("{") else ""
            if message.startswith("switchpoint listening on "):
                listening.append(message.split()[3])
                if len(listening) == 2:
                    break
        # Each worker took a port of its own: a load balancer knew of one of them.
        assert len(set(listening)) == 1, listening
        assert not listening[0].endswith(":0")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0


def test_workers_past_the_configurations_limit_are_refused_on_the_command_line() -> None:
    # The file's server.workers stops at 256; --workers went past it unchecked. (The
    # empty host stops serve before it forks anything, should --workers be taken.)
    result = subprocess.run(
        [sys.executable, "-m", "switchpoint", "serve", "--workers", "257", "--host", ""],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--workers" in result.stderr and "256" in result.stderr


def test_a_share_directory_left_by_a_killed_gateway_is_removed_by_the_next(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": {"openai": {"type": "simulated"}},
                "logging": {"access_log": False, "format": "json"},
                "ledger": {"enabled": False},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    argv = [sys.executable, "-m", "switchpoint", "serve", "-c", str(config), "--port", "0",
            "--workers", "2"]  # fmt: skip
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

    def ours() -> set[Path]:
        return set(shm.glob("switchpoint-metrics-*"))

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        assert process.stderr is not None
        listening = 0
        for line in process.stderr:
            if "switchpoint listening on" in line:
                listening += 1
                if listening == 2:
                    return process
        raise AssertionError("the gateway did not start")

    before = ours()
    first = start()
    made = ours() - before
    # Killed with its workers (SIGKILL after a stop timeout, the OOM killer): nothing
    # of it runs to remove its directory from /dev/shm, which is memory.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    assert wait_until(lambda: not alive(first.pid), 10)
    time.sleep(0.5)  # its workers, killed too, are gone
    assert made and made <= ours(), "the killed gateway's directory is expected to remain"
    for directory in made:
        # As if a while had passed: only a directory nobody publishes into is removed.
        os.utime(directory, (time.time() - 60, time.time() - 60))
    second = start()
    try:
        assert not made & ours(), f"{made} was left behind for good"
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)
