"""Child processes of a benchmark run: start pinned, wait until ready, always clean up.

Every child starts in its own session (process group), so stopping it also stops its
workers; every child is remembered until stopped, and `stop_all` runs at exit and on
SIGINT/SIGTERM, so a Ctrl-C never leaves a server holding a port or a core.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

_LIVE: list[ManagedProcess] = []


def free_port() -> int:
    """A port the kernel says is free now. Another program may take it before the child
    binds it; `start` notices the child dying and the caller may retry with a new port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get_status(url_host: str, port: int, path: str, timeout_s: float = 1.0) -> int:
    conn = http.client.HTTPConnection(url_host, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class StartError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    cpus: set[int] | None
    log_path: Path
    cwd: Path | None = None
    unset_env: tuple[str, ...] = ()
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after_s: float = float("nan")
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        cpus = self.cpus

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        env = {k: v for k, v in {**os.environ, **self.env}.items() if k not in self.unset_env}
        self.started_at = time.perf_counter()
        self.popen = subprocess.Popen(
            list(self.argv),
            env=env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=pin,
        )
        _LIVE.append(self)

    def wait_ready(self, host: str, port: int, path: str, timeout_s: float) -> float:
        """Poll `GET path` until it answers 2xx; returns seconds from spawn to ready."""
        deadline = self.started_at + timeout_s
        while True:
            if self.popen is not None and self.popen.poll() is not None:
                raise StartError(
                    f"{self.name} exited with {self.popen.returncode} before it was ready; "
                    f"see {self.log_path}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if 200 <= http_get_status(host, port, path) < 300:
                    self.ready_after_s = time.perf_counter() - self.started_at
                    return self.ready_after_s
            if time.perf_counter() > deadline:
                raise StartError(
                    f"{self.name} was not ready at http://{host}:{port}{path} within "
                    f"{timeout_s:.0f} s; see {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        popen = self.popen
        if popen is not None:
            if popen.poll() is None:
                _signal_group(popen.pid, signal.SIGTERM)
                try:
                    popen.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    _signal_group(popen.pid, signal.SIGKILL)
                    popen.wait(timeout=grace_s)
            # Workers that outlived their parent are still in its process group.
            _signal_group(popen.pid, signal.SIGKILL)
        log = self._log
        if log is not None:
            log.close()  # type: ignore[attr-defined]
            self._log = None
        if self in _LIVE:
            _LIVE.remove(self)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_all() -> None:
    for proc in reversed(list(_LIVE)):
        with contextlib.suppress(Exception):
            proc.stop(grace_s=3.0)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    stop_all()
    raise KeyboardInterrupt


def install_cleanup() -> None:
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
