"""`switchpoint serve` as a real process under traffic: killed with SIGKILL it loses at
most the last unflushed batch (and never leaves half a batch); stopped with SIGTERM it
loses nothing."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest
import yaml

from tests.gateway_process import gateway_process
from tests.ledger.gateway_setup import ledger_rows

FLUSH_INTERVAL_S = 0.2
# Generous: the machine is shared; what matters is the bound, not the exact figure.
SLACK_S = 1.5


def config_file(tmp_path: Path, url: str) -> Path:
    document = {
        "server": {"host": "127.0.0.1", "port": 0},
        "providers": {
            "sim": {
                "type": "simulated",
                "simulation": {"latency_ms": 1, "chunk_delay_ms": 0, "output_tokens": 5},
            }
        },
        "models": {"sim-model": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}},
        "routing": {
            "default_profile": "only",
            "profiles": {
                "only": {
                    "model": "sim-model",
                    "provider": "sim",
                    "max_context": 100_000,
                    "cost_weight": 1.0,
                }
            },
        },
        "ledger": {"url": url, "flush_interval_s": FLUSH_INTERVAL_S},
        "logging": {"format": "json", "access_log": False},
    }
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def serve(config: Path) -> list[str]:
    return [sys.executable, "-m", "switchpoint", "serve", "--config", str(config)]


class Traffic:
    """Clients sending calls until stopped, noting when each answer was acknowledged."""

    def __init__(self, base_url: str, clients: int = 6) -> None:
        self.base_url = base_url
        self.acked: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)
        ]

    def _run(self, index: int) -> None:
        with httpx2.Client(timeout=5) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(
                        f"{self.base_url}/v1/chat/completions",
                        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
                        headers={"X-Switchpoint-Task-Id": f"client-{index}"},
                    )
                except httpx2.HTTPError:
                    return
                if response.status_code == 200:
                    with self._lock:
                        self.acked.append(
                            (response.headers["x-switchpoint-request-id"], time.monotonic())
                        )

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def warmed_up(self, calls: int = 50, timeout_s: float = 30.0) -> Traffic:
        """Wait for the first answers (the gateway's first calls load lazily)."""
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < calls:
            assert time.monotonic() < deadline, "the gateway answered no calls"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


def check_consistency(url: str) -> None:
    """Every request row came with all its attempt rows and its rollup increments."""
    assert ledger_rows(url, "PRAGMA integrity_check") == [("ok",)]
    assert ledger_rows(
        url,
        "SELECT COUNT(*) FROM requests r WHERE r.attempts != "
        "(SELECT COUNT(*) FROM attempts a WHERE a.request_id = r.request_id)",
    ) == [(0,)]
    per_task = dict(ledger_rows(url, "SELECT task_id, COUNT(*) FROM requests GROUP BY task_id"))
    rollup = dict(ledger_rows(url, "SELECT task_id, calls FROM tasks"))
    assert per_task == rollup


def test_kill_9_loses_at_most_the_last_unflushed_batch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with gateway_process(serve(config_file(tmp_path, url))) as running:
        process = running.process
        traffic = Traffic(running.url).start().warmed_up()
        time.sleep(3.0)
        os.kill(process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        process.wait(30)
        traffic.stop()
    acked = traffic.acked
    stored = {row[0] for row in ledger_rows(url, "SELECT request_id FROM requests")}
    missing = [(rid, at) for rid, at in acked if rid not in stored]
    # Anything acknowledged well before the kill had been flushed...
    old_missing = [rid for rid, at in missing if at < killed_at - FLUSH_INTERVAL_S - SLACK_S]
    assert old_missing == []
    # ...so what is missing is at most the last interval's worth of calls.
    recent = [rid for rid, at in acked if at >= killed_at - FLUSH_INTERVAL_S - SLACK_S]
    assert len(missing) <= len(recent)
    assert len(stored) >= len(acked) - len(recent)
    assert len(acked) - len(recent) > 100, "too little traffic before the window"
    check_consistency(url)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_a_clean_shutdown_loses_nothing(tmp_path: Path, stop_signal: signal.Signals) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with gateway_process(serve(config_file(tmp_path, url))) as running:
        process = running.process
        traffic = Traffic(running.url).start().warmed_up()
        time.sleep(1.0)
        process.send_signal(stop_signal)
        assert process.wait(60) == 0
        traffic.stop()
    acked = {rid for rid, _ in traffic.acked}
    assert len(acked) > 50
    stored = {row[0] for row in ledger_rows(url, "SELECT request_id FROM requests")}
    assert acked <= stored
    check_consistency(url)
