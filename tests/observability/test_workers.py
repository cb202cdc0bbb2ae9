"""Several workers: any worker's /metrics answers for all of them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import yaml
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from switchpoint.observability.metrics import GatewayMetrics
from switchpoint.observability.process_families import MetricSource, ProcessFamilies
from switchpoint.observability.worker_share import WorkerShare
from tests.observability.stack import http_get

ROOT = Path(__file__).resolve().parents[2]


def record_calls(metrics: GatewayMetrics, count: int) -> None:
    from tests.observability.test_live_snapshot import call

    for _ in range(count):
        record = call(time.time())
        metrics.on_call_start(record)
        metrics.on_call(record)


def requests_of(metrics: GatewayMetrics) -> int:
    return sum(sum(series.statuses.values()) for series in metrics.calls.values())


def test_shares_sum_workers_and_survive_a_restart(tmp_path: Path) -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    share0, share1 = WorkerShare(tmp_path, 0, 2), WorkerShare(tmp_path, 1, 2)
    record_calls(first, 3)
    record_calls(second, 4)
    second.on_call_start(object())  # type: ignore[arg-type]  # one left in flight
    share0.publish(first, {("p", "m"): "closed"})
    share1.publish(second, {("p", "m"): "open"})
    assert requests_of(share0.combined(first)) == 7
    assert requests_of(share1.combined(second)) == 7
    assert share0.combined(first).in_flight == 1
    assert share0.combined_states({("p", "m"): "closed"}) == {("p", "m"): "open"}
    # Worker 1 dies and is replaced: its successor starts from its last numbers, and
    # what it had in flight is not in flight any more.
    successor = WorkerShare(tmp_path, 1, 2)
    fresh = GatewayMetrics()
    record_calls(fresh, 1)
    assert requests_of(successor.combined(fresh)) == 3 + 4 + 1
    assert successor.combined(fresh).in_flight == 0
    # An unreadable file is skipped, not fatal.
    (tmp_path / "worker-0.pickle").write_bytes(b"not a pickle")
    assert requests_of(successor.combined(fresh)) == 4 + 1


def test_each_worker_s_own_families_are_shown_labelled_by_worker(tmp_path: Path) -> None:
    """Process-level families (ledger writer, trace exporter, memory) are not summable:
    every worker's are shown, labelled, the others' as last published."""
    share0, share1 = WorkerShare(tmp_path, 0, 2), WorkerShare(tmp_path, 1, 2)

    def ledger(written: float, available: float) -> MetricSource:
        def families() -> Iterator[Metric]:
            yield CounterMetricFamily("switchpoint_ledger_written_records", "w", value=written)
            yield GaugeMetricFamily("switchpoint_ledger_available", "a", value=available)

        return families

    worker1 = ProcessFamilies([ledger(5, 0)])
    share1.publish(GatewayMetrics(), {}, worker1.snapshot())
    worker0 = ProcessFamilies([ledger(7, 1)])
    worker0.worker, worker0.peers = 0, share0.peer_families
    share0.publish(GatewayMetrics(), {}, worker0.snapshot())
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in worker0.collect()
        for sample in family.samples
    }
    assert samples == {
        ("switchpoint_ledger_written_records_total", (("worker", "0"),)): 7,
        ("switchpoint_ledger_written_records_total", (("worker", "1"),)): 5,
        ("switchpoint_ledger_available", (("worker", "0"),)): 1,
        ("switchpoint_ledger_available", (("worker", "1"),)): 0,
    }
    # One worker alone: its families as they are, no label.
    alone = ProcessFamilies([ledger(3, 1)])
    assert [s.labels for f in alone.collect() for s in f.samples] == [{}, {}]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_workers_one_story(tmp_path: Path) -> None:
    config = {
        "server": {"workers": 2},
        "providers": {
            name: {"type": "simulated", "simulation": {"latency_ms": 1, "chunk_delay_ms": 0}}
            for name in ("openai", "anthropic", "google")
        },
        "logging": {"access_log": False},
        "ledger": {"enabled": False},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "SWITCHPOINT_MASTER_KEY" and not k.startswith("OTEL_")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "switchpoint", "serve", "-c", str(path), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None and time.monotonic() < deadline
            try:
                if http_get(base + "/healthz")[0] == 200:
                    break
            except urllib.error.URLError:
                pass  # not listening yet
            time.sleep(0.1)
        users: list[Any] = [{"role": "user", "content": "hi"}]
        # Fresh clients (new connections) so the kernel spreads them over both workers.
        for _ in range(20):
            with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as sdk:
                sdk.chat.completions.create(model="cost_sensitive", messages=users)
        time.sleep(1.5)  # every worker has published since
        totals = set()
        for _ in range(8):
            _, _, body = http_get(base + "/metrics")
            lines = [
                line
                for line in body.decode().splitlines()
                if line.startswith("switchpoint_requests_total{")
            ]
            totals.add(sum(float(line.rsplit(" ", 1)[1]) for line in lines))
        assert totals == {20.0}
        # Per-process families come from every worker, labelled.
        rss = {
            line.split("{", 1)[1].split("}", 1)[0]
            for line in http_get(base + "/metrics")[2].decode().splitlines()
            if line.startswith("process_resident_memory_bytes{")
        }
        assert rss == {'worker="0"', 'worker="1"'}
        # Both workers answered (the kernel spreads new connections; 16 tries).
        workers = {
            orjson.loads(http_get(base + "/ui/api/snapshot")[2])["worker"]["index"]
            for _ in range(16)
        }
        assert workers == {0, 1}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
