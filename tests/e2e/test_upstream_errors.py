"""Vendor errors come back in the protocol the client spoke, with the vendor's status and
reason (a vendor's 500 as 502 Bad Gateway: switchpoint never answers 500 for an
upstream's fault), and never with a provider key in them."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from switchpoint.providers import http_adapter
from tests.e2e.conftest import CLIENT_KEY, HTTP, MODELS, PROFILES, Stack
from tests.fakes import (
    BadGateway,
    ContentPolicy,
    ContextLengthExceeded,
    Fault,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    RawResponse,
    ServerError,
)

ANTHROPIC_HEADERS = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}


def call_openai(stack: Stack, profile: str) -> httpx2.Response:
    return HTTP.post(
        f"{stack.base_url}/v1/chat/completions",
        json={"model": profile, "messages": [{"role": "user", "content": "hello there"}]},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=30,
    )


def call_anthropic(stack: Stack, profile: str, *, stream: bool = False) -> httpx2.Response:
    body = {
        "model": profile,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hello there"}],
        "stream": stream,
    }
    return HTTP.post(
        f"{stack.base_url}/v1/messages", json=body, headers=ANTHROPIC_HEADERS, timeout=30
    )


def openai_error(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    return error


def anthropic_error(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert body["type"] == "error"
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "message"}
    return error


# (fault, {profile: (status, openai type, anthropic type, words of the vendor's reason)})
CASES: list[tuple[Fault, dict[str, tuple[int, str, str, str]]]] = [
    (
        RateLimited(retry_after=1),
        {
            "oa": (429, "rate_limit_error", "rate_limit_error", "Rate limit reached"),
            "an": (429, "rate_limit_error", "rate_limit_error", "exceed your account's rate limit"),
            "ge": (429, "rate_limit_error", "rate_limit_error", "exceeded your current quota"),
        },
    ),
    (
        ServerError(),
        {
            "oa": (502, "server_error", "api_error", "had an error while processing"),
            "an": (502, "server_error", "api_error", "Internal server error"),
            "ge": (502, "server_error", "api_error", "An internal error has occurred"),
        },
    ),
    (
        Overloaded(),
        {
            "oa": (503, "server_error", "overloaded_error", "overloaded or not ready"),
            "an": (529, "server_error", "overloaded_error", "Overloaded"),
            "ge": (503, "server_error", "overloaded_error", "The model is overloaded"),
        },
    ),
    (
        ContextLengthExceeded(limit=5),
        {
            "oa": (400, "invalid_request_error", "invalid_request_error", "maximum context length"),
            "an": (400, "invalid_request_error", "invalid_request_error", "prompt is too long"),
            "ge": (400, "invalid_request_error", "invalid_request_error", "input token count"),
        },
    ),
    (
        ContentPolicy(),
        {
            "oa": (400, "invalid_request_error", "invalid_request_error", "safety system"),
            "an": (400, "invalid_request_error", "invalid_request_error", "content filtering"),
            "ge": (400, "invalid_request_error", "invalid_request_error", "blocked"),
        },
    ),
    (
        BadGateway(),
        {
            "oa": (502, "server_error", "api_error", "returned HTTP 502"),
            "an": (502, "server_error", "api_error", "returned HTTP 502"),
            "ge": (502, "server_error", "api_error", "returned HTTP 502"),
        },
    ),
]


@pytest.mark.parametrize(
    ("fault", "expected"), CASES, ids=[type(fault).__name__ for fault, _ in CASES]
)
@pytest.mark.parametrize("profile", PROFILES)
def test_upstream_errors_in_both_protocols(
    stack: Stack, profile: str, fault: Fault, expected: dict[str, tuple[int, str, str, str]]
) -> None:
    status, openai_type, anthropic_type, reason = expected[profile]
    fake = stack.fake(profile)

    fake.enqueue(fault)
    response = call_openai(stack, profile)
    assert response.status_code == status, response.text
    error = openai_error(response)
    assert error["type"] == openai_type
    assert reason in error["message"]
    assert MODELS[profile] in error["message"]  # names who failed

    fake.enqueue(fault)
    response = call_anthropic(stack, profile)
    assert response.status_code == status, response.text
    error = anthropic_error(response)
    assert error["type"] == anthropic_type
    assert reason in error["message"]
    if isinstance(fault, RateLimited):  # Gemini says it in the body (RetryInfo)
        assert response.headers["retry-after"] == "1"


def test_an_oversized_error_page_is_answered_at_once(stack: Stack) -> None:
    # An edge proxy's 3 MB error page: read only as far as it is used (64 KB), so the
    # answer does not wait on the rest of it (it used to wait out the read's 10 s limit).
    page = b"<html><body>" + b"<!-- padding -->" * (3 << 16) + b"</body></html>"
    stack.openai_fake.enqueue(RawResponse(status=502, body=page, content_type="text/html"))
    started = time.perf_counter()
    response = call_openai(stack, "oa")
    assert time.perf_counter() - started < 3
    assert response.status_code == 502, response.text
    assert "returned HTTP 502" in openai_error(response)["message"]
    # The connection it came on was not reused: the next call is served normally.
    assert call_openai(stack, "oa").status_code == 200


def test_a_compressed_body_nobody_asked_for_is_an_error_that_says_so(stack: Stack) -> None:
    body = gzip.compress(b'{"id": "x", "object": "chat.completion", "choices": []}')
    stack.openai_fake.enqueue(
        RawResponse(status=200, body=body, headers=(("Content-Encoding", "gzip"),))
    )
    response = call_openai(stack, "oa")
    assert response.status_code == 502, response.text
    assert "gzip-encoded body it was not asked for" in openai_error(response)["message"]


def test_a_response_head_past_its_limit_is_an_error_that_says_so(stack: Stack) -> None:
    headers = tuple((f"x-padding-{i}", "p" * 100) for i in range(3000))
    stack.openai_fake.enqueue(RawResponse(status=200, body=b"{}", headers=headers))
    response = call_openai(stack, "oa")
    assert response.status_code == 502, response.text
    assert "openai sent response headers larger than 262144 bytes" in (
        openai_error(response)["message"]
    )
    assert call_openai(stack, "oa").status_code == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("profile", PROFILES)
def test_an_answer_too_large_to_be_one_is_refused_not_held(
    stack: Stack, profile: str, chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 body past `MAX_ANSWER_BYTES` (64 MB; 100 KB here) is an invalid_response:
    declared, it is refused before it is read; chunked, once that much has arrived."""
    monkeypatch.setattr(http_adapter, "MAX_ANSWER_BYTES", 100_000)
    body = b'{"padding": "' + b"z" * 3_000_000 + b'"}'
    stack.fake(profile).enqueue(RawResponse(status=200, body=body, chunked=chunked))
    response = call_openai(stack, profile)
    assert response.status_code == 502, response.text
    assert "sent an answer larger than 100000 bytes" in openai_error(response)["message"]
    # The connection it came on was not reused: the next call is served normally.
    assert call_openai(stack, profile).status_code == 200


@pytest.mark.parametrize("profile", PROFILES)
def test_sdks_raise_their_own_exceptions(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.enqueue(RateLimited())
    with pytest.raises(openai.RateLimitError) as oa_caught:
        stack.openai().chat.completions.create(
            model=profile, messages=[{"role": "user", "content": "hi"}]
        )
    assert oa_caught.value.status_code == 429
    fake.enqueue(ContextLengthExceeded(limit=5))
    with pytest.raises(anthropic.BadRequestError) as an_caught:
        stack.anthropic().messages.create(
            model=profile, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert isinstance(an_caught.value.body, dict)
    assert an_caught.value.body["error"]["type"] == "invalid_request_error"


def test_anthropic_overload_is_an_overloaded_error_for_its_sdk(stack: Stack) -> None:
    stack.anthropic_fake.enqueue(Overloaded())
    with pytest.raises(anthropic.OverloadedError) as caught:
        stack.anthropic().messages.create(
            model="an", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 529


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_exhausted_quota_is_ours_not_the_clients(stack: Stack, profile: str) -> None:
    stack.fake(profile).enqueue(QuotaExhausted())
    response = call_openai(stack, profile)
    assert response.status_code == 503
    assert openai_error(response)["type"] == "server_error"


# --- keys never leak ----------------------------------------------------------------


def echoing_fault(profile: str, key: str) -> RawResponse:
    """The vendor quotes our key back in its error, as some proxies and vendors do."""
    if profile == "oa":
        body: Any = {
            "error": {
                "message": f"Incorrect API key provided: {key}.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        return RawResponse(status=401, body=json.dumps(body).encode())
    if profile == "an":
        body = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": f"bad request for key {key}"},
        }
        return RawResponse(status=400, body=json.dumps(body).encode())
    body = {
        "error": {
            "code": 400,
            "message": f"API key not valid: {key}. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }
    return RawResponse(status=400, body=json.dumps(body).encode())


@pytest.mark.parametrize("profile", PROFILES)
def test_provider_keys_are_scrubbed_from_errors_and_logs(stack: Stack, profile: str) -> None:
    key = stack.keys()[profile]
    fake = stack.fake(profile)
    responses = []
    fake.enqueue(echoing_fault(profile, key))
    responses.append(call_openai(stack, profile))
    fake.enqueue(echoing_fault(profile, key))
    responses.append(call_anthropic(stack, profile))
    fake.enqueue(echoing_fault(profile, key))
    responses.append(call_anthropic(stack, profile, stream=True))
    for response in responses:
        assert 400 <= response.status_code < 600
        assert response.status_code != 500
        assert key not in response.text
        assert "[redacted]" in response.text
        assert all(key not in value for value in response.headers.values())
    # A refused key is the gateway's problem, not the client's: never a 401 to the client.
    assert all(r.status_code != 401 for r in responses)
    assert key not in stack.recorder.logged()
    assert "[redacted]" in stack.recorder.logged()


def test_wrong_configured_key_is_a_gateway_error(stack: Stack) -> None:
    stack.gemini_fake.api_key = "a-different-key"
    response = call_openai(stack, "ge")
    assert response.status_code == 502
    assert "API key not valid" in openai_error(response)["message"]
    stack.anthropic_fake.api_key = "another-key"
    response = call_anthropic(stack, "an")
    assert response.status_code == 502
    assert anthropic_error(response)["type"] == "api_error"
