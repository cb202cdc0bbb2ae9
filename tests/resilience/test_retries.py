"""Retries, fallbacks and error pass-through, through the official OpenAI SDK.

Each test asserts what the client received and what each upstream saw.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import openai
import pytest

from tests.fakes import (
    AcceptThenSilent,
    BadGateway,
    ConnectionReset,
    ContentPolicy,
    ContextLengthExceeded,
    CutAfter,
    MalformedBody,
    OpenAIFake,
    QuotaExhausted,
    RateLimited,
    RawResponse,
    ServerError,
    ServiceUnavailable,
    SlowFirstToken,
    StallAfter,
    closed_port,
)
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair

USER = [{"role": "user", "content": "hello there"}]
Pair = tuple[OpenAIFake, OpenAIFake]


def client(gw: GatewayThread, **kwargs: Any) -> openai.OpenAI:
    # The SDK's own retries are off: what is measured is switchpoint's.
    return openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, **kwargs)


def ask(gw: GatewayThread, *, stream: bool = False) -> tuple[str, dict[str, str], str]:
    """(text, switchpoint headers, model) of one request."""
    api = client(gw)
    if not stream:
        raw = api.chat.completions.with_raw_response.create(model="main", messages=USER)
        completion = raw.parse()
        return completion.choices[0].message.content or "", dict(raw.headers), completion.model
    with api.chat.completions.with_streaming_response.create(
        model="main", messages=USER, stream=True, stream_options={"include_usage": True}
    ) as response:
        headers = dict(response.headers)
        text, model = "", ""
        for chunk in response.parse():
            model = chunk.model or model
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    return text, headers, model


def gaps(fake: OpenAIFake) -> list[float]:
    times = [r.arrived_at for r in fake.requests]
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "fault", [ServerError(), BadGateway(), ServiceUnavailable(), RateLimited(), ConnectionReset()]
)
def test_transient_fault_is_retried_on_the_same_target(
    pair: Pair, fault: Any, stream: bool
) -> None:
    primary, backup = pair
    primary.enqueue(fault)
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, model = ask(gw, stream=stream)
    assert text == "Hello from gpt-a."
    assert model == "gpt-a"
    assert primary.request_count() == 2
    assert backup.request_count() == 0
    assert headers["x-switchpoint-attempts"] == "2"
    assert headers["x-switchpoint-retries"] == "1"
    assert headers["x-switchpoint-model"] == "gpt-a"
    assert headers["x-switchpoint-fallback"] == "false"
    # Backoff: at least half the base delay between the two attempts.
    assert gaps(primary)[0] >= 0.025


def test_retry_after_is_honoured(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(RateLimited(retry_after=0.6))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-a."
    assert gaps(primary)[0] >= 0.6
    assert headers["x-switchpoint-retries"] == "1"


def test_long_retry_after_fails_over_instead_of_waiting(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(RateLimited(retry_after=120))
    document = openai_pair(primary.base_url, backup.base_url, fallback={"max_retry_after_s": 5})
    started = time.monotonic()
    with GatewayThread(document, KEYS) as gw:
        text, headers, model = ask(gw)
    assert time.monotonic() - started < 10
    assert (text, model) == ("Hello from gpt-b.", "gpt-b")
    assert primary.request_count() == 1
    assert headers["x-switchpoint-fallback"] == "true"
    assert headers["x-switchpoint-fallback-reasons"] == "rate_limited"


@pytest.mark.parametrize("retry_after", [7200, "86400000"], ids=["two-hours", "a-thousand-days"])
def test_a_retry_after_of_hours_fails_over_at_once(pair: Pair, retry_after: Any) -> None:
    # "Not for hours" was once read as absurd and ignored: the target was retried.
    primary, backup = pair
    primary.enqueue(RateLimited(retry_after=retry_after))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-b."
    assert primary.request_count() == 1
    assert headers["x-switchpoint-fallback-reasons"] == "rate_limited"


@pytest.mark.parametrize("retry_after", ["soon-ish", "Wed, 99 Foo 2026 25:61:00 GMT", "nan", "-3"])
def test_a_retry_after_that_is_not_one_is_no_hint(pair: Pair, retry_after: str) -> None:
    # A garbled header once raised inside the gateway: a 500, no retry, no fallback.
    primary, _ = pair
    primary.enqueue(RateLimited(retry_after=retry_after))
    with GatewayThread(openai_pair(primary.base_url, pair[1].base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-a."  # retried after the policy's own backoff
    assert headers["x-switchpoint-retries"] == "1"


def test_exponential_backoff_then_fallback(pair: Pair) -> None:
    primary, backup = pair
    primary.down(fault=ServerError())
    document = openai_pair(
        primary.base_url,
        backup.base_url,
        fallback={"max_retries": 3, "backoff_base_s": 0.1, "backoff_max_s": 1.0},
    )
    with GatewayThread(document, KEYS) as gw:
        text, headers, model = ask(gw)
    assert (text, model) == ("Hello from gpt-b.", "gpt-b")
    assert primary.request_count() == 4  # 1 + max_retries
    spacing = gaps(primary)
    # Jittered between half and all of base * 2**n: 0.05-0.1, 0.1-0.2, 0.2-0.4.
    assert spacing[0] >= 0.05 and spacing[1] >= 0.1 and spacing[2] >= 0.2
    assert headers["x-switchpoint-attempts"] == "5"
    assert headers["x-switchpoint-retries"] == "3"
    assert headers["x-switchpoint-fallbacks"] == "1"
    assert headers["x-switchpoint-provider"] == "backup"


@pytest.mark.parametrize("stream", [False, True])
def test_every_target_failing_gives_a_clean_error(pair: Pair, stream: bool) -> None:
    primary, backup = pair
    primary.down(fault=ServiceUnavailable())
    backup.down(fault=ServerError())
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        api = client(gw)
        with pytest.raises(openai.APIStatusError) as caught:
            if stream:
                for _ in api.chat.completions.create(model="main", messages=USER, stream=True):
                    pass
            else:
                api.chat.completions.create(model="main", messages=USER)
    error = caught.value
    assert error.status_code == 502  # the last failure was a 500: never passed on as one
    assert "all 6 attempt(s) failed" in error.message
    assert error.response.headers["x-switchpoint-attempts"] == "6"
    assert primary.request_count() == 3 and backup.request_count() == 3
    assert "sk-fake" not in error.response.text


def test_every_target_unavailable_says_when_to_try_again(pair: Pair) -> None:
    # No vendor gave a Retry-After: the client's 503 still paces its retries.
    primary, backup = pair
    primary.down(fault=ServiceUnavailable())
    backup.down(fault=ServiceUnavailable())
    document = openai_pair(primary.base_url, backup.base_url)
    with GatewayThread(document, KEYS) as gw, pytest.raises(openai.APIStatusError) as caught:
        client(gw).chat.completions.create(model="main", messages=USER)
    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "1"


def test_connection_refused_is_retried_then_failed_over(pair: Pair) -> None:
    _, backup = pair
    with closed_port() as port:
        document = openai_pair(f"http://127.0.0.1:{port}/v1", backup.base_url)
        with GatewayThread(document, KEYS) as gw:
            text, headers, _ = ask(gw)
            attempts = gw.recorder.calls[-1].attempts
    assert text == "Hello from gpt-b."
    assert [a.outcome for a in attempts] == ["connect", "connect", "connect", "ok"]
    assert headers["x-switchpoint-fallback-reasons"] == "connect"


@pytest.mark.parametrize("stream", [False, True])
def test_silent_provider_fails_over_without_retrying_it(pair: Pair, stream: bool) -> None:
    primary, backup = pair
    primary.enqueue(AcceptThenSilent())
    limits = {"timeout_s": 1.5, "connect_timeout_s": 1.0, "first_token_timeout_s": 1.5}
    document = openai_pair(primary.base_url, backup.base_url, primary=limits)
    started = time.monotonic()
    with GatewayThread(document, KEYS) as gw:
        text, headers, model = ask(gw, stream=stream)
    elapsed = time.monotonic() - started
    assert (text, model) == ("Hello from gpt-b.", "gpt-b")
    assert primary.request_count() == 1  # the silent route is not retried
    assert headers["x-switchpoint-fallback-reasons"] == "timeout"
    assert elapsed < 1.5 + 5


def test_slow_first_token_fails_over(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(SlowFirstToken(5.0, stage="first_event"))
    document = openai_pair(
        primary.base_url, backup.base_url, primary={"first_token_timeout_s": 0.5}
    )
    started = time.monotonic()
    with GatewayThread(document, KEYS) as gw:
        text, headers, _ = ask(gw, stream=True)
    assert text == "Hello from gpt-b."
    assert time.monotonic() - started < 4
    assert primary.request_count() == 1
    assert headers["x-switchpoint-fallback-reasons"] == "timeout"
    assert primary.requests[0].wait_disconnected(3)


def test_context_length_moves_to_a_larger_context_profile(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(ContextLengthExceeded(limit=1000))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-b."
    assert primary.request_count() == 1  # never retried on the same model
    assert headers["x-switchpoint-fallback-reasons"] == "context_length"


def test_context_length_without_a_larger_profile_is_passed_back(pair: Pair) -> None:
    primary, backup = pair
    backup.enqueue(ContextLengthExceeded(limit=1000))
    document = openai_pair(primary.base_url, backup.base_url)
    document["routing"]["default_profile"] = "backup"
    with GatewayThread(document, KEYS) as gw, pytest.raises(openai.BadRequestError) as caught:
        client(gw).chat.completions.create(model="backup", messages=USER)
    assert caught.value.status_code == 400
    assert caught.value.code == "context_length_exceeded"
    assert backup.request_count() == 1 and primary.request_count() == 0


@pytest.mark.parametrize("stream", [False, True])
def test_content_policy_is_passed_back_not_retried(pair: Pair, stream: bool) -> None:
    primary, backup = pair
    primary.enqueue(ContentPolicy())
    with (
        GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client(gw).chat.completions.create(model="main", messages=USER, stream=stream)
    assert caught.value.code == "content_policy_violation"
    assert "safety system" in caught.value.message
    assert primary.request_count() == 1 and backup.request_count() == 0


def test_content_policy_fails_over_when_configured(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(ContentPolicy())
    document = openai_pair(
        primary.base_url, backup.base_url, fallback={"content_policy_fallback": True}
    )
    with GatewayThread(document, KEYS) as gw:
        text, _, _ = ask(gw)
    assert text == "Hello from gpt-b."
    assert primary.request_count() == 1


def test_other_client_errors_are_passed_back_once(pair: Pair) -> None:
    primary, backup = pair
    body = (
        b'{"error":{"message":"Invalid value for temperature","type":"invalid_request_error",'
        b'"param":"temperature","code":"invalid_value"}}'
    )
    primary.enqueue(RawResponse(status=400, body=body))
    with (
        GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client(gw).chat.completions.create(model="main", messages=USER)
    assert "Invalid value for temperature" in caught.value.message
    assert caught.value.code == "invalid_value"
    assert primary.request_count() == 1 and backup.request_count() == 0


def test_quota_exhausted_fails_over_at_once(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(QuotaExhausted())
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-b."
    assert primary.request_count() == 1
    assert headers["x-switchpoint-fallback-reasons"] == "quota"


def test_the_whole_call_ends_within_its_deadline(pair: Pair) -> None:
    primary, backup = pair
    primary.down(fault=AcceptThenSilent())
    backup.down(fault=AcceptThenSilent())
    document = openai_pair(primary.base_url, backup.base_url, fallback={"request_deadline_s": 1.5})
    started = time.monotonic()
    with GatewayThread(document, KEYS) as gw, pytest.raises(openai.APIStatusError) as caught:
        client(gw).chat.completions.create(model="main", messages=USER)
    elapsed = time.monotonic() - started
    assert caught.value.status_code == 504
    assert elapsed < 1.5 + 3
    assert primary.request_count() == 1


@pytest.mark.parametrize("fault", [CutAfter(events=1), MalformedBody()])
def test_a_broken_whole_body_is_retried(pair: Pair, fault: Any) -> None:
    primary, backup = pair
    primary.enqueue(fault)
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-a."
    assert primary.request_count() == 2
    assert headers["x-switchpoint-retries"] == "1"


def test_a_whole_body_that_stalls_fails_over_after_the_idle_limit(pair: Pair) -> None:
    primary, backup = pair
    primary.enqueue(StallAfter(events=1))  # headers and half the body, then silence
    started = time.monotonic()
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
    assert text == "Hello from gpt-b."
    assert time.monotonic() - started < 1.0 + 5  # the idle limit, not the 20 s attempt
    assert headers["x-switchpoint-fallback-reasons"] == "stalled"
    assert primary.request_count() == 1
