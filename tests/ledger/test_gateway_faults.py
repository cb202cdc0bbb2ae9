"""The gateway when its ledger is down, slow or absent, and when a model has no price:
calls are never failed because of the ledger, and nothing is lost without being counted."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from switchpoint.gateway import Gateway
from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import (
    flush,
    gateway_config,
    gateway_of,
    ledger_rows,
    serving,
)
from tests.ledger.tcp_proxy import TcpProxy

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]


def chat(base: str, **headers: str) -> httpx2.Response:
    return httpx2.post(
        f"{base}/v1/chat/completions",
        json={"model": "auto", "messages": MESSAGES},
        headers=headers,
        timeout=30,
    )


def test_calls_are_served_while_postgresql_is_unreachable(
    refused_port: int, openai_fake: OpenAIFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "switchpoint")
    url = f"postgresql://postgres@127.0.0.1:{refused_port}/test"
    config = gateway_config(openai_fake, url, ledger={"max_queue": 5})
    started = time.monotonic()
    with serving(config, openai_fake) as server:
        assert time.monotonic() - started < 20
        base = server.base_url
        for _ in range(8):
            assert chat(base).status_code == 200
        writer = gateway_of(server).ledger.writer  # type: ignore[union-attr]
        assert not writer.available
        assert writer.queue_depth == 5
        assert writer.dropped_total == 3
        report = httpx2.get(f"{base}/v1/reports/outcomes", timeout=30)
        assert report.status_code == 503
        assert "ledger database is unavailable" in report.json()["error"]["message"]
        # Virtual keys live in the ledger: they cannot be checked, and say so.
        keyed = chat(base, Authorization="Bearer sk-sp-0123456789ab-secret")
        assert keyed.status_code == 503
    messages = [r.getMessage() for r in caplog.records]
    assert any("is unavailable" in m and "kept in memory" in m for m in messages)
    assert any("queue is full" in m and "dropped" in m for m in messages)


def test_a_postgresql_outage_midway_loses_nothing(
    postgres_url: str, openai_fake: OpenAIFake
) -> None:
    parts = urlsplit(postgres_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        proxied = postgres_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
        config = gateway_config(openai_fake, proxied)
        with serving(config, openai_fake) as server:
            writer = gateway_of(server).ledger.writer  # type: ignore[union-attr]
            for _ in range(5):
                assert chat(server.base_url, **{"X-Switchpoint-Task-Id": "t"}).status_code == 200
            flush(server)
            proxy.down()
            for _ in range(10):
                assert chat(server.base_url, **{"X-Switchpoint-Task-Id": "t"}).status_code == 200
            deadline = time.monotonic() + 10
            while writer.available and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not writer.available
            proxy.up()
            flush(server)
            assert writer.available
            assert writer.dropped_total == 0
    assert ledger_rows(postgres_url, "SELECT COUNT(*) FROM requests") == [(15,)]
    assert ledger_rows(postgres_url, "SELECT calls FROM tasks") == [(15,)]


def test_a_model_without_a_price_is_reported_at_start_and_recorded_as_unknown(
    sqlite_url: str, openai_fake: OpenAIFake, caplog: pytest.LogCaptureFixture
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    config = config.model_copy(update={"models": {}})  # no prices at all
    caplog.set_level(logging.WARNING, "switchpoint")
    Gateway(config, environ={}).log_startup()
    warnings = [r.getMessage() for r in caplog.records]
    assert any("gpt-5.5 has no price" in m and "unknown cost" in m for m in warnings)
    with serving(config, openai_fake) as server:
        assert chat(server.base_url, **{"X-Switchpoint-Task-Id": "free?"}).status_code == 200
        task = httpx2.get(f"{server.base_url}/v1/tasks/free%3F").json()
        assert task["cost_complete"] is False
        assert task["unpriced_calls"] == 1
        report = httpx2.get(f"{server.base_url}/v1/reports/outcomes").json()
        assert report["groups"][0]["unpriced_requests"] == 1
    assert ledger_rows(sqlite_url, "SELECT cost_usd, cost_known FROM requests") == [(None, 0)]


def test_without_a_ledger_calls_work_and_ledger_endpoints_say_why_not(
    openai_fake: OpenAIFake, tmp_path: Any
) -> None:
    config = gateway_config(
        openai_fake, f"sqlite:///{tmp_path / 'unused.db'}", ledger={"enabled": False}
    )
    with serving(config, openai_fake) as server:
        base = server.base_url
        assert chat(base).status_code == 200
        for response in (
            httpx2.get(f"{base}/v1/reports/outcomes"),
            httpx2.get(f"{base}/v1/tasks/t"),
            httpx2.post(f"{base}/v1/keys", json={"team": "t"}),
        ):
            assert response.status_code == 404
            assert "without a ledger" in response.json()["error"]["message"]
        keyed = chat(base, Authorization="Bearer sk-sp-0123456789ab-secret")
        assert keyed.status_code == 401
    assert not (tmp_path / "unused.db").exists()
