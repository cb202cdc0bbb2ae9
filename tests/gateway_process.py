"""`switchpoint serve` as a real process, for the tests that need one (signals, resource
limits): its JSON log messages as they arrive, and its URL once it listens."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class GatewayProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.messages: list[str] = []
        self.url = ""
        self.ready = threading.Event()

    def read_logs(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with contextlib.suppress(ValueError):
                message = str(json.loads(line).get("message", ""))
                self.messages.append(message)
                if message.startswith("switchpoint listening on "):
                    self.url = message.split()[3]
                    self.ready.set()

    def logged(self, text: str) -> list[str]:
        return [m for m in self.messages if text in m]


@contextlib.contextmanager
def gateway_process(
    argv: Sequence[str], *, cwd: Path = REPO, env: Mapping[str, str] | None = None
) -> Iterator[GatewayProcess]:
    """Runs `argv` (a `switchpoint serve` with JSON logs) until it listens; killed at the
    end if it is still running."""
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = GatewayProcess(process)
    threading.Thread(target=running.read_logs, daemon=True).start()
    try:
        assert running.ready.wait(30), f"the gateway did not start: {running.messages}"
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
