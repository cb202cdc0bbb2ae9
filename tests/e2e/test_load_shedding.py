"""An overloaded worker refuses new chat calls at once, in each client's protocol, and
serves again as soon as it can; the SDKs' own retries then get through."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anthropic
import openai
import pytest

from tests.e2e.conftest import HTTP, Stack, StackFactory
from tests.fakes import SlowFirstToken

HOLD_S = 1.5
MESSAGES = [{"role": "user", "content": "hello"}]


@contextmanager
def call_in_flight(stack: Stack, call: Callable[[], object]) -> Iterator[list[object]]:
    """Runs `call` in a thread; yields once the gateway counts it in flight, then waits
    for it to end. The list holds its result (or exception)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    gateway = stack.server.gateway
    assert gateway is not None
    deadline = time.monotonic() + 5
    while gateway.shedder.in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gateway.shedder.in_flight == 1
    yield outcome
    thread.join(10)


def test_calls_past_max_in_flight_are_refused_in_each_protocol(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(max_in_flight=1)
    stack.openai_fake.enqueue(SlowFirstToken(delay=HOLD_S))
    client = stack.openai()
    held = lambda: client.chat.completions.create(model="oa", messages=MESSAGES)  # noqa: E731
    with call_in_flight(stack, held) as outcome:
        with pytest.raises(openai.InternalServerError) as refused:
            client.chat.completions.create(model="oa", messages=MESSAGES, stream=True)
        assert refused.value.status_code == 503
        assert refused.value.response.headers["retry-after"] == "1"
        body = refused.value.response.json()
        assert body["error"]["type"] == "server_error"
        assert "overloaded (1 calls are in flight)" in body["error"]["message"]
        # The request id, where the SDK reads it, as on every other answer.
        headers = refused.value.response.headers
        assert refused.value.request_id == headers["x-switchpoint-request-id"]
        assert headers["x-switchpoint-request-id"].startswith("sp-")
        assert "request-id" not in headers

        with pytest.raises(anthropic.OverloadedError) as overloaded:
            stack.anthropic().messages.create(model="an", max_tokens=50, messages=MESSAGES)
        assert overloaded.value.status_code == 529
        assert overloaded.value.response.json()["error"]["type"] == "overloaded_error"
        shed_headers = overloaded.value.response.headers
        assert overloaded.value.request_id == shed_headers["x-switchpoint-request-id"]
        assert "x-request-id" not in shed_headers
        # Each refusal has an id of its own.
        assert shed_headers["x-switchpoint-request-id"] != headers["x-switchpoint-request-id"]

        # What operators look at still answers.
        assert HTTP.get(f"{stack.base_url}/healthz").status_code == 200
    answer = outcome[0]
    assert isinstance(answer, openai.types.chat.ChatCompletion), answer
    assert answer.choices[0].message.content

    # Refusals reach no upstream and leave no call record; the held call does.
    assert stack.openai_fake.request_count() == 1
    assert stack.anthropic_fake.request_count() == 0
    assert len(stack.recorder.calls) == 1
    gateway = stack.server.gateway
    assert gateway is not None and gateway.metrics is not None
    assert gateway.metrics.shed == {"in_flight": 2}
    assert gateway.shedder.in_flight == 0

    served = client.chat.completions.create(model="oa", messages=MESSAGES)
    assert served.choices[0].message.content


def test_a_client_that_retries_is_served_once_the_load_is_gone(make_stack: StackFactory) -> None:
    stack = make_stack(max_in_flight=1)
    stack.openai_fake.enqueue(SlowFirstToken(delay=HOLD_S))
    held_client = stack.openai()
    held = lambda: held_client.chat.completions.create(model="oa", messages=MESSAGES)  # noqa: E731
    with call_in_flight(stack, held):
        started = time.monotonic()
        # The SDK waits out each `Retry-After: 1` and tries again.
        answer = stack.openai(max_retries=4).chat.completions.create(model="oa", messages=MESSAGES)
        waited = time.monotonic() - started
    assert answer.choices[0].message.content
    gateway = stack.server.gateway
    assert gateway is not None and gateway.metrics is not None
    assert gateway.metrics.shed["in_flight"] >= 1
    assert waited >= 0.9


def test_calls_are_refused_while_the_event_loop_is_stuck(make_stack: StackFactory) -> None:
    stack = make_stack(max_loop_lag_ms=100)
    client = stack.openai()
    assert client.chat.completions.create(model="oa", messages=MESSAGES).choices
    # Something holds the worker's loop for 0.5 s; a call arriving meanwhile is read
    # after the lateness sample that is due first.
    stack.server.call(lambda: time.sleep(0.5))
    time.sleep(0.05)
    with pytest.raises(openai.InternalServerError) as refused:
        client.chat.completions.create(model="oa", messages=MESSAGES)
    assert refused.value.status_code == 503
    assert "event loop runs" in refused.value.response.json()["error"]["message"]
    # Once it keeps up again (the next samples, a tenth of a second apart), calls are
    # served: polled, so that a busy test machine cannot make this flaky.
    deadline = time.monotonic() + 5
    served = None
    while served is None and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            served = client.chat.completions.create(model="oa", messages=MESSAGES)
        except openai.InternalServerError:
            continue
    assert served is not None and served.choices
    gateway = stack.server.gateway
    assert gateway is not None and gateway.metrics is not None
    assert gateway.metrics.shed["loop_lag"] >= 1
    assert set(gateway.metrics.shed) == {"loop_lag"}
    # The stuck half-second is in the lateness histogram: a sample past 0.25 s.
    lag = gateway.metrics.loop_lag
    assert dict(lag.cumulative())["0.25"] < lag.count
