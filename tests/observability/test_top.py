"""`switchpoint top`: one frame of the live picture, read from a running gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchpoint.cli.top_view import sparkline
from tests.fakes import OpenAIFake
from tests.observability.stack import client, gateway_config, running_gateway

ROOT = Path(__file__).resolve().parents[2]
USER: list[Any] = [{"role": "user", "content": "hello"}]
MASTER = "top-test-master-key"


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


def run_top(url: str, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SWITCHPOINT_MASTER_KEY"}
    env["COLUMNS"] = "160"
    if key is not None:
        env["SWITCHPOINT_MASTER_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "switchpoint", "top", "--once", "--url", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_top_shows_traffic_breakers_and_decisions(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.down(model="gpt-primary")
    config = gateway_config(openai_fake, backup_fake)
    with running_gateway(config, {"SWITCHPOINT_MASTER_KEY": MASTER}) as server:
        sdk = client(server, api_key=MASTER)
        for _ in range(4):
            sdk.chat.completions.create(model="primary", messages=USER)
        result = run_top(server.base_url, MASTER)
        refused = run_top(server.base_url, None)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "traffic",
        "provider latency",
        "circuit breakers",
        "main/gpt-primary",
        "open",
        "closed → open",
        "breaker_open",
        "upstream_error",
        "gpt-backup (backup)",
        "ledger: not attached",
        "shed 0",
    ):
        assert expected in out, expected
    assert refused.returncode == 1
    assert "master key" in refused.stderr


def test_top_says_when_the_gateway_is_unreachable(refused_port: int) -> None:
    result = run_top(f"http://127.0.0.1:{refused_port}", None)
    assert result.returncode == 1
    assert "cannot reach" in result.stderr


def test_sparkline() -> None:
    assert sparkline([0.0, 1.0, 2.0, None, 4.0], width=5) == "▁▂▄ █"
    assert sparkline([None, 0.0], width=3) == "  ▁"
