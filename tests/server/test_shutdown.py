"""Stopping the server: calls in flight finish within `server.shutdown_grace_s`; past it
they are cut, a cut stream reaches its client as incomplete, never as finished, and the
cut call is still in the ledger (its record is written before the ledger closes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import openai
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.server.background import BackgroundServer
from tests.ledger.gateway_setup import ledger_rows

# A simulated answer of 40 chunks 50 ms apart: a stream of about two seconds.
CHUNKS = 40
CHUNK_DELAY_MS = 50


PROFILE = {"model": "sim-model", "provider": "sim", "max_context": 100_000, "cost_weight": 1.0}


def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


def server(tmp_path: Path, grace_s: float) -> BackgroundServer:
    config = parse_config(
        {
            "server": {"shutdown_grace_s": grace_s},
            "providers": {
                "sim": {
                    "type": "simulated",
                    "simulation": {
                        "latency_ms": 1,
                        "chunk_delay_ms": CHUNK_DELAY_MS,
                        "output_tokens": CHUNKS,
                    },
                }
            },
            "routing": {"default_profile": "only", "profiles": {"only": PROFILE}},
            "ledger": {"url": ledger_url(tmp_path)},
            "logging": {"access_log": False},
        }
    )
    return BackgroundServer(config, environ={})


class StreamingClient(threading.Thread):
    """Reads one stream to its end; notes what it saw."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.first_chunk = threading.Event()
        self.chunks = 0
        self.finish_reason: str | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        client = openai.OpenAI(base_url=f"{self.base_url}/v1", api_key="unused", max_retries=0)
        try:
            stream = client.chat.completions.create(
                model="only", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            for chunk in stream:
                self.chunks += 1
                self.first_chunk.set()
                if chunk.choices and chunk.choices[0].finish_reason:
                    self.finish_reason = chunk.choices[0].finish_reason
        except Exception as exc:
            self.error = exc
        finally:
            self.first_chunk.set()
            client.close()


def test_a_stream_in_flight_is_let_finish(tmp_path: Path) -> None:
    running = server(tmp_path, grace_s=30).start()
    reader = StreamingClient(running.base_url)
    reader.start()
    assert reader.first_chunk.wait(10)
    running.stop()
    reader.join(10)
    assert reader.error is None
    assert reader.finish_reason is not None
    assert reader.chunks > CHUNKS // 2
    assert ledger_rows(ledger_url(tmp_path), "SELECT status FROM requests") == [("ok",)]


@pytest.mark.parametrize("grace_s", [0.3, 0.0])
def test_past_the_grace_a_stream_is_cut_and_its_client_knows(
    tmp_path: Path, grace_s: float
) -> None:
    running = server(tmp_path, grace_s=grace_s).start()
    reader = StreamingClient(running.base_url)
    reader.start()
    assert reader.first_chunk.wait(10)
    started = time.monotonic()
    running.stop()
    stopped_in = time.monotonic() - started
    reader.join(10)
    assert not reader.is_alive()
    # The grace, not the stream's two seconds (the ledger's final flush comes after).
    assert stopped_in < grace_s + 1.5
    assert reader.finish_reason is None
    assert isinstance(reader.error, openai.APIError)  # a connection error included
    # Cut, yet accounted for: the call's row is there, not marked as a success.
    (row,) = ledger_rows(ledger_url(tmp_path), "SELECT status, error_kind FROM requests")
    assert row[0] != "ok"
