"""How the Anthropic, Google and OpenAI adapters classify their vendors' failures, and
the requests they build (URLs, headers, max_tokens)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchpoint.chat.content import Message, Text, ToolCall, ToolResult
from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.config.schema import ModelConfig, ProviderConfig
from switchpoint.providers.anthropic import DEFAULT_MAX_TOKENS, AnthropicAdapter
from switchpoint.providers.google import GoogleAdapter
from switchpoint.providers.openai import OpenAIAdapter, OpenAICompatibleAdapter
from switchpoint.transport.http_client import HttpClient

ANTHROPIC_KEY = "sk-ant-api03-secretsecret"
GOOGLE_KEY = "plain-google-key-123"


def anthropic_adapter(**config: Any) -> AnthropicAdapter:
    return AnthropicAdapter(
        "anthropic",
        ProviderConfig(type="anthropic", **config),
        {"big": ModelConfig(max_output_tokens=9000)},
        client=HttpClient(),
        api_key=ANTHROPIC_KEY,
    )


def google_adapter(**config: Any) -> GoogleAdapter:
    return GoogleAdapter(
        "google",
        ProviderConfig(type="google", **config),
        {},
        client=HttpClient(),
        api_key=GOOGLE_KEY,
    )


def anthropic_body(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "kind", "message", "expected"),
    [
        (529, "overloaded_error", "Overloaded", "overloaded"),
        (429, "rate_limit_error", "slow down", "rate_limited"),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000",
            "context_length",
        ),
        (
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000",
            "context_length",
        ),
        (
            400,
            "invalid_request_error",
            "Output blocked by content filtering policy",
            "content_policy",
        ),
        (
            400,
            "invalid_request_error",
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message.",
            "prefill_rejected",
        ),
        (400, "invalid_request_error", "Your credit balance is too low", "quota"),
        (402, "billing_error", "pay up", "quota"),
        (
            400,
            "invalid_request_error",
            "messages: text content blocks must be non-empty",
            "bad_request",
        ),
        (401, "authentication_error", "invalid x-api-key", "auth"),
        (404, "not_found_error", "model: claude-nope", "not_found"),
        (500, "api_error", "Internal server error", "server_error"),
    ],
)
def test_anthropic_classification(status: int, kind: str, message: str, expected: str) -> None:
    error = anthropic_adapter().classify_error(status, anthropic_body(kind, message), {})
    assert error.kind == expected
    assert error.status == status
    assert error.message == message
    assert error.vendor_type == kind


def test_anthropic_error_without_json_body() -> None:
    error = anthropic_adapter().classify_error(502, b"<html>bad gateway</html>", {})
    assert error.kind == "server_error"
    assert error.message == "anthropic returned HTTP 502"


def test_anthropic_scrubs_its_key() -> None:
    error = anthropic_adapter().classify_error(
        400, anthropic_body("invalid_request_error", f"key {ANTHROPIC_KEY} is odd"), {}
    )
    assert ANTHROPIC_KEY not in error.message and "[redacted]" in error.message


def google_body(code: int, status: str, message: str, details: list[Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return json.dumps({"error": error}).encode()


def quota(quota_id: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaId": quota_id}],
    }


@pytest.mark.parametrize(
    ("status", "grpc", "message", "details", "expected"),
    [
        (429, "RESOURCE_EXHAUSTED", "quota", [quota("GenerateRequestsPerMinute")], "rate_limited"),
        (429, "RESOURCE_EXHAUSTED", "quota", [quota("GenerateRequestsPerDayPerProject")], "quota"),
        (
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            "auth",
        ),
        (
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1000).",
            None,
            "context_length",
        ),
        (
            400,
            "INVALID_ARGUMENT",
            "Please ensure that multiturn requests end with a user role or a function response.",
            None,
            "prefill_rejected",
        ),
        (400, "FAILED_PRECONDITION", "User location is not supported", None, "unavailable"),
        (400, "INVALID_ARGUMENT", "Invalid JSON payload received.", None, "bad_request"),
        (403, "PERMISSION_DENIED", "denied", None, "auth"),
        (404, "NOT_FOUND", "models/x is not found", None, "not_found"),
        (500, "INTERNAL", "An internal error has occurred", None, "server_error"),
        (503, "UNAVAILABLE", "The model is overloaded.", None, "overloaded"),
    ],
)
def test_google_classification(
    status: int, grpc: str, message: str, details: list[Any] | None, expected: str
) -> None:
    error = google_adapter().classify_error(status, google_body(status, grpc, message, details), {})
    assert error.kind == expected
    assert error.status == status
    assert error.vendor_type == grpc


def test_google_retry_delay_and_key_scrubbing() -> None:
    details = [
        quota("GenerateRequestsPerMinute"),
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
    ]
    error = google_adapter().classify_error(
        429, google_body(429, "RESOURCE_EXHAUSTED", f"slow {GOOGLE_KEY}", details), {}
    )
    assert error.retry_after_s == 7.0
    assert GOOGLE_KEY not in error.message


def conversation_request(max_tokens: int | None = None) -> ChatRequest:
    conversation = Conversation(messages=[Message("user", [Text("hi")])], max_tokens=max_tokens)
    return ChatRequest("openai_chat", {}, stream=False, conversation=conversation)


def test_anthropic_max_tokens_defaults() -> None:
    adapter = anthropic_adapter()
    assert adapter.max_tokens_for("big") == 9000
    assert adapter.max_tokens_for("unknown") == DEFAULT_MAX_TOKENS
    body = json.loads(adapter._body(conversation_request(), "unknown", stream=False))
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    body = json.loads(adapter._body(conversation_request(12), "big", stream=True))
    assert body["max_tokens"] == 12 and body["stream"] is True


def test_anthropic_rewritten_conversation_keeps_anthropic_only_fields() -> None:
    original = {
        "model": "x",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "long history"}],
        "thinking": {"type": "adaptive"},
        "temperature": 0.3,
        "stream": True,
    }
    request = ChatRequest("anthropic_messages", original, stream=True)
    rewritten = request.replaced(Conversation(messages=[Message("user", [Text("summary")])]))
    body = json.loads(anthropic_adapter()._body(rewritten, "m", stream=True))
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "summary"}]}]
    assert body["thinking"] == {"type": "adaptive"} and body["temperature"] == 0.3
    native = json.loads(anthropic_adapter()._body(request, "m", stream=False))
    assert native == {k: v for k, v in original.items() if k != "stream"} | {"model": "m"}


def test_anthropic_headers_and_path() -> None:
    adapter = anthropic_adapter(base_url="https://proxy.test/anthropic", api_version="2026-10-21")
    headers = adapter._static_headers.decode()
    assert f"x-api-key: {ANTHROPIC_KEY}" in headers
    assert "anthropic-version: 2026-10-21" in headers
    assert adapter._path == "/anthropic/v1/messages"
    assert "anthropic-version: 2023-06-01" in anthropic_adapter()._static_headers.decode()


def test_google_paths() -> None:
    adapter = google_adapter()
    assert (
        adapter._path("gemini-3-pro", stream=False) == "/v1beta/models/gemini-3-pro:generateContent"
    )
    assert (
        adapter._path("models/gemini-3-pro", stream=True)
        == "/v1beta/models/gemini-3-pro:streamGenerateContent?alt=sse"
    )
    stable = google_adapter(base_url="https://g.test/prefix", api_version="v1")
    assert (
        stable._path("gemini-2.5-pro", stream=False)
        == "/prefix/v1/models/gemini-2.5-pro:generateContent"
    )
    assert f"x-goog-api-key: {GOOGLE_KEY}" in adapter._static_headers.decode()


def test_a_responses_only_model_tells_the_operator_what_to_configure() -> None:
    adapter = OpenAIAdapter(
        "openai", ProviderConfig(type="openai"), {}, client=HttpClient(), api_key="sk-x"
    )
    body = {
        "error": {
            "message": "This model is only supported in v1/responses and not in "
            "v1/chat/completions.",
            "type": "invalid_request_error",
            "param": "model",
            "code": None,
        }
    }
    error = adapter.classify_error(404, json.dumps(body).encode(), {})
    assert error.kind == "not_found"  # the chain's next model serves the call
    assert error.message.endswith("a provider of type openai_responses)")
    chat_404 = {"error": {"message": "The model `x` does not exist", "code": "model_not_found"}}
    assert (
        "openai_responses"
        not in adapter.classify_error(404, json.dumps(chat_404).encode(), {}).message
    )


def test_a_string_over_its_field_limit_is_not_a_context_overflow() -> None:
    # Summarizing the conversation cannot shorten a tool description: the call passes to
    # a target that may take it (Anthropic allows longer descriptions), code kept.
    adapter = OpenAIAdapter(
        "openai", ProviderConfig(type="openai"), {}, client=HttpClient(), api_key="sk-x"
    )
    body = {
        "error": {
            "message": "Invalid 'tools[0].function.description': string too long. Expected a "
            "string with maximum length 1024, but got a string with length 1500 instead.",
            "type": "invalid_request_error",
            "param": "tools[0].function.description",
            "code": "string_above_max_length",
        }
    }
    error = adapter.classify_error(400, json.dumps(body).encode(), {})
    assert error.kind == "unsupported"
    assert error.vendor_type == "string_above_max_length"
    overflow = {"error": {"message": "maximum context length is 128000 tokens", "code": None}}
    assert adapter.classify_error(400, json.dumps(overflow).encode(), {}).kind == "context_length"


@pytest.mark.parametrize(
    ("model", "placeholder"),
    [
        ("gemini-3.1-pro", True),
        ("gemini-pro-latest", True),  # Google's alias for the newest Pro (3.1 today)
        ("gemini-flash-latest", True),
        ("models/gemini-flash-lite-latest", True),
        ("gemini-2.5-flash", False),  # signatures are optional before Gemini 3
    ],
)
def test_a_replayed_call_without_its_signature_gets_googles_placeholder(
    model: str, placeholder: bool
) -> None:
    """A call the gateway holds no signature for (made by another vendor, another worker,
    or before a restart): Gemini 3 answers 400 without one, including behind an alias."""
    conversation = Conversation(
        messages=[
            Message("user", [Text("Weather in Paris?")]),
            Message("assistant", [ToolCall("call_prev_1", "get_weather", '{"city":"Paris"}')]),
            Message("user", [ToolResult("call_prev_1", [Text("18C")], name="get_weather")]),
        ]
    )
    request = ChatRequest("openai_chat", {}, stream=False, conversation=conversation)
    body = json.loads(google_adapter()._body(request, model))
    [call] = [p for c in body["contents"] for p in c["parts"] if "functionCall" in p]
    assert ("thoughtSignature" in call) is placeholder
    if placeholder:
        assert call["thoughtSignature"] == "skip_thought_signature_validator"


@pytest.mark.parametrize(
    ("provider", "sent", "expected"),
    [
        ("openai", {"max_tokens": 300}, {"max_completion_tokens": 300}),
        # Both given: the current field wins, the deprecated one is not sent alongside.
        (
            "openai",
            {"max_tokens": 300, "max_completion_tokens": 200},
            {"max_completion_tokens": 200},
        ),
        # Compatible servers (vLLM, llama.cpp, ...) mostly read `max_tokens`: as sent.
        ("openai_compatible", {"max_tokens": 300}, {"max_tokens": 300}),
    ],
)
def test_an_openai_clients_max_tokens_reaches_openai_as_max_completion_tokens(
    provider: str, sent: dict[str, int], expected: dict[str, int]
) -> None:
    kind = OpenAIAdapter if provider == "openai" else OpenAICompatibleAdapter
    config = ProviderConfig(type=provider, base_url="http://127.0.0.1:1/v1")
    adapter = kind("p", config, {}, client=HttpClient(), api_key="sk-x")
    client_body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], **sent}
    request = ChatRequest("openai_chat", client_body, stream=False)
    body = json.loads(adapter._body(request, "gpt-5.4", stream=False))
    assert {k: v for k, v in body.items() if "max" in k} == expected
    assert body["model"] == "gpt-5.4" and body["messages"] == client_body["messages"]
