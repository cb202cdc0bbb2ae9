"""Vendor-independent behaviour of the fakes: lifecycle, recording, scripting."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx2
import pytest

from tests.fakes import (
    AcceptThenSilent,
    AnthropicFake,
    GeminiFake,
    InvalidEvent,
    OpenAIFake,
    ServerError,
    ServiceUnavailable,
    closed_port,
)

KEY = {"authorization": "Bearer sk-fake-openai"}


def chat(model: str = "gpt-test", text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


# One client for the whole module: building one costs more than a fake request.
_HTTP = httpx2.Client(headers=KEY)


def post(fake: OpenAIFake, body: dict[str, Any], **kwargs: Any) -> httpx2.Response:
    return _HTTP.post(f"{fake.base_url}/chat/completions", json=body, **kwargs)


def test_base_urls_follow_each_sdk_convention() -> None:
    with OpenAIFake() as o, AnthropicFake() as a, GeminiFake() as g:
        assert o.base_url == f"http://127.0.0.1:{o.port}/v1"
        assert a.base_url == f"http://127.0.0.1:{a.port}"
        assert g.base_url == f"http://127.0.0.1:{g.port}"
        assert len({o.port, a.port, g.port}) == 3


def test_stop_releases_the_port_and_start_twice_is_refused() -> None:
    fake = OpenAIFake().start()
    port = fake.port
    with pytest.raises(RuntimeError):
        fake.start()
    fake.stop()
    with pytest.raises(RuntimeError):
        _ = fake.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_async_context_manager_serves_async_clients() -> None:
    async with OpenAIFake() as fake, httpx2.AsyncClient() as client:
        response = await client.post(f"{fake.base_url}/chat/completions", json=chat(), headers=KEY)
    assert response.status_code == 200
    assert fake.request_count() == 1


def test_recording_captures_the_request_as_sent(openai_fake: OpenAIFake) -> None:
    before = time.monotonic()
    response = httpx2.post(
        f"{openai_fake.base_url}/chat/completions?trace=1",
        json=chat("gpt-a"),
        headers={**KEY, "X-Custom": "yes"},
    )
    assert response.status_code == 200
    [record] = openai_fake.requests
    assert record.method == "POST"
    assert record.path == "/v1/chat/completions"
    assert record.query == {"trace": "1"}
    assert record.headers["x-custom"] == "yes"
    assert record.body == chat("gpt-a")
    assert record.model == "gpt-a"
    assert record.stream is False
    assert record.auth_header == "Bearer sk-fake-openai"
    assert record.credential == "sk-fake-openai"
    assert before <= record.arrived_at <= time.monotonic()
    assert record.status == 200
    assert record.behaviour == "default"
    assert not record.client_disconnected


def test_request_count_by_model_and_clear(openai_fake: OpenAIFake) -> None:
    for model in ("a", "b", "a"):
        post(openai_fake, chat(model))
    assert openai_fake.request_count() == 3
    assert openai_fake.request_count(model="a") == 2
    assert openai_fake.request_count(model="b") == 1
    openai_fake.clear()
    assert openai_fake.request_count() == 0
    assert openai_fake.requests == []


def test_recording_is_complete_under_concurrent_clients(openai_fake: OpenAIFake) -> None:
    def worker(i: int) -> None:
        assert post(openai_fake, chat(f"m{i % 4}")).status_code == 200

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert openai_fake.request_count() == 40
    assert sum(openai_fake.request_count(model=f"m{i}") for i in range(4)) == 40


def test_queued_faults_are_one_shot_and_in_order(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(ServerError(), ServiceUnavailable())
    statuses = [post(openai_fake, chat()).status_code for _ in range(3)]
    assert statuses == [500, 503, 200]
    assert [r.behaviour for r in openai_fake.requests] == [
        "ServerError",
        "ServiceUnavailable",
        "default",
    ]


def test_faults_target_one_model_while_another_stays_healthy(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(ServerError(), model="sick")
    assert post(openai_fake, chat("healthy")).status_code == 200
    assert post(openai_fake, chat("sick")).status_code == 500
    assert post(openai_fake, chat("sick")).status_code == 200

    openai_fake.down(model="sick")
    assert [post(openai_fake, chat("sick")).status_code for _ in range(3)] == [503] * 3
    assert post(openai_fake, chat("healthy")).status_code == 200
    openai_fake.up(model="sick")
    assert post(openai_fake, chat("sick")).status_code == 200


def test_fault_precedence_queue_then_model_mode_then_global_mode(openai_fake: OpenAIFake) -> None:
    openai_fake.set_mode(ServiceUnavailable())
    openai_fake.set_mode(ServerError(), model="m")
    openai_fake.enqueue(AcceptThenSilent(), model="other")
    openai_fake.enqueue(InvalidEvent())  # stream-only: must not touch non-stream requests
    assert post(openai_fake, chat("m")).status_code == 500
    assert post(openai_fake, chat("x")).status_code == 503
    assert [f.name for f in openai_fake.pending_faults] == ["AcceptThenSilent", "InvalidEvent"]
    openai_fake.reset_faults()
    assert post(openai_fake, chat("m")).status_code == 200
    assert openai_fake.pending_faults == []


def test_accept_then_silent_holds_until_the_client_leaves(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(AcceptThenSilent())
    with pytest.raises(httpx2.ReadTimeout):
        post(openai_fake, chat(), timeout=0.2)
    record = openai_fake.last_request
    assert record.wait_disconnected(2.0)
    assert record.status is None


def test_stop_does_not_wait_for_a_silent_request() -> None:
    fake = OpenAIFake().start()
    fake.enqueue(AcceptThenSilent())
    errors: list[BaseException] = []

    def call() -> None:
        try:
            post(fake, chat(), timeout=10)
        except httpx2.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    assert fake.wait_for_requests(1)
    started = time.monotonic()
    fake.stop()
    thread.join(5)
    assert time.monotonic() - started < 3.0
    assert len(errors) == 1


def test_refused_port_refuses(refused_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", refused_port), timeout=1).close()


def test_closed_port_is_released_afterwards() -> None:
    with closed_port() as port:
        assert port > 0
    # Released: the port can be bound again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_hundreds_of_requests_cost_well_under_a_second_of_server_time(
    openai_fake: OpenAIFake,
) -> None:
    cpu_before = openai_fake.cpu_seconds
    limits = httpx2.Limits(max_connections=20)
    async with httpx2.AsyncClient(headers=KEY, limits=limits) as client:

        async def one(i: int) -> int:
            body = chat(stream=i % 2 == 0)
            response = await client.post(f"{openai_fake.base_url}/chat/completions", json=body)
            return response.status_code

        statuses = await asyncio.gather(*(one(i) for i in range(300)))
    assert statuses == [200] * 300
    assert openai_fake.request_count() == 300
    # CPU time of the fake's thread: its own cost, whatever else the machine runs.
    server_cpu = openai_fake.cpu_seconds - cpu_before
    assert server_cpu < 1.0, server_cpu
