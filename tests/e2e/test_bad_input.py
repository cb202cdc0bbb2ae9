"""Bad input gets a 4xx in the protocol the client spoke, naming the problem: never a
500, never a stack trace, and no vendor is called."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, Stack, StackFactory

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
GOOD_OPENAI: dict[str, Any] = {"model": "oa", "messages": [{"role": "user", "content": "hi"}]}
GOOD_ANTHROPIC: dict[str, Any] = {
    "model": "an",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}
HEADERS = {"authorization": f"Bearer {CLIENT_KEY}", "anthropic-version": "2023-06-01"}


def post(stack: Stack, path: str, content: bytes, **headers: str) -> httpx2.Response:
    return HTTP.post(
        f"{stack.base_url}{path}",
        content=content,
        headers={**HEADERS, "content-type": "application/json", **headers},
        timeout=30,
    )


def post_json(stack: Stack, path: str, body: Any, **headers: str) -> httpx2.Response:
    import json

    return post(stack, path, json.dumps(body).encode(), **headers)


def assert_openai_error(response: httpx2.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    message = body["error"]["message"]
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "Traceback" not in response.text


ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
}


def assert_anthropic_error(response: httpx2.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == ANTHROPIC_TYPES[status]
    message = body["error"]["message"]
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "Traceback" not in response.text


def no_vendor_called(stack: Stack) -> bool:
    return (
        stack.openai_fake.request_count()
        + stack.anthropic_fake.request_count()
        + stack.gemini_fake.request_count()
        == 0
    )


Case = tuple[str, Callable[[dict[str, Any]], Any], tuple[str, ...]]

# (name, how to spoil a good body, words the error must contain)
COMMON_CASES: list[Case] = [
    ("messages_missing", lambda b: {k: v for k, v in b.items() if k != "messages"}, ("messages",)),
    ("messages_not_array", lambda b: {**b, "messages": "hi"}, ("messages", "array")),
    ("messages_empty", lambda b: {**b, "messages": []}, ("messages", "at least one")),
    ("message_not_object", lambda b: {**b, "messages": ["hi"]}, ("messages[0]", "object")),
    (
        "bad_role",
        lambda b: {**b, "messages": [{"role": "robot", "content": "hi"}]},
        ("messages[0].role", "robot"),
    ),
    (
        "role_not_string",
        lambda b: {**b, "messages": [{"role": {"r": 1}, "content": "hi"}]},
        ("messages[0].role",),
    ),
    ("stream_not_bool", lambda b: {**b, "stream": "yes"}, ("stream", "boolean")),
    ("model_not_string", lambda b: {**b, "model": 42}, ("model", "string")),
    ("body_not_object", lambda b: [b], ("JSON object",)),
]
ANTHROPIC_CASES: list[Case] = [
    *COMMON_CASES,
    (
        "max_tokens_missing",
        lambda b: {k: v for k, v in b.items() if k != "max_tokens"},
        ("max_tokens", "required"),
    ),
    ("max_tokens_zero", lambda b: {**b, "max_tokens": 0}, ("max_tokens", "at least 1")),
    ("max_tokens_negative", lambda b: {**b, "max_tokens": -5}, ("max_tokens",)),
    ("max_tokens_string", lambda b: {**b, "max_tokens": "ten"}, ("max_tokens", "integer")),
    ("temperature_too_high", lambda b: {**b, "temperature": 1.5}, ("temperature",)),
    ("system_wrong_type", lambda b: {**b, "system": 5}, ("system",)),
    (
        "content_missing",
        lambda b: {**b, "messages": [{"role": "user"}]},
        ("messages[0].content", "required"),
    ),
    (
        "block_without_type",
        lambda b: {**b, "messages": [{"role": "user", "content": [{"text": "x"}]}]},
        ("messages[0].content[0].type",),
    ),
    ("stop_sequences_wrong", lambda b: {**b, "stop_sequences": [1]}, ("stop_sequences[0]",)),
]
OPENAI_CASES: list[Case] = [
    *COMMON_CASES,
    ("temperature_too_high", lambda b: {**b, "temperature": 3}, ("temperature",)),
    ("n_zero", lambda b: {**b, "n": 0}, ("'n'", "at least 1")),
    ("n_not_integer", lambda b: {**b, "n": "2"}, ("'n'",)),
    # A stream is relayed as one answer: further choices would be lost without a word.
    ("n_streamed", lambda b: {**b, "n": 2, "stream": True}, ("'n'", "cannot be streamed")),
]


@pytest.mark.parametrize(
    ("name", "spoil", "words"), ANTHROPIC_CASES, ids=[c[0] for c in ANTHROPIC_CASES]
)
def test_anthropic_body_errors(
    stack: Stack, name: str, spoil: Callable[[dict[str, Any]], Any], words: tuple[str, ...]
) -> None:
    response = post_json(stack, ANTHROPIC_PATH, spoil(dict(GOOD_ANTHROPIC)))
    assert_anthropic_error(response, 400, *words)
    assert no_vendor_called(stack)


@pytest.mark.parametrize(("name", "spoil", "words"), OPENAI_CASES, ids=[c[0] for c in OPENAI_CASES])
def test_openai_body_errors(
    stack: Stack, name: str, spoil: Callable[[dict[str, Any]], Any], words: tuple[str, ...]
) -> None:
    response = post_json(stack, OPENAI_PATH, spoil(dict(GOOD_OPENAI)))
    assert_openai_error(response, 400, *words)
    assert no_vendor_called(stack)


@pytest.mark.parametrize(
    ("path", "check", "good"),
    [
        (OPENAI_PATH, assert_openai_error, GOOD_OPENAI),
        (ANTHROPIC_PATH, assert_anthropic_error, GOOD_ANTHROPIC),
    ],
    ids=["openai", "anthropic"],
)
def test_request_level_errors(stack: Stack, path: str, check: Any, good: dict[str, Any]) -> None:
    check(post(stack, path, b'{"model": "oa", "messages": ['), 400, "not valid JSON")
    check(post(stack, path, b""), 400, "empty")
    check(post_json(stack, path, good, **{"x-switchpoint-workload": "nope"}), 400, "nope")
    check(post_json(stack, path, good, **{"x-switchpoint-budget": "1.5"}), 400, "Budget", "0 and 1")
    check(post_json(stack, path, good, **{"x-switchpoint-budget": "-0.1"}), 400, "Budget")
    check(post_json(stack, path, good, **{"x-switchpoint-budget": "lots"}), 400, "Budget")
    check(
        post_json(stack, path, good, **{"x-switchpoint-context-tokens": "-3"}),
        400,
        "Context-Tokens",
        "negative",
    )
    check(post_json(stack, path, {**good, "model": "no-such-model"}), 404, "no-such-model")
    assert no_vendor_called(stack)


def test_unknown_routes_and_methods(stack: Stack) -> None:
    base = stack.base_url
    assert_anthropic_error(HTTP.get(f"{base}/v1/messages"), 405, "GET", "/v1/messages")
    assert HTTP.get(f"{base}/v1/messages").headers["allow"] == "POST"
    assert_anthropic_error(HTTP.post(f"{base}/v1/messages/batches", json={}), 404, "batches")
    assert_anthropic_error(HTTP.delete(f"{base}/v1/messages/count_tokens"), 405, "DELETE")
    assert_openai_error(HTTP.get(f"{base}/v1/chat/completions"), 405, "GET")
    assert_openai_error(HTTP.post(f"{base}/v1/nothing", json={}), 404, "/v1/nothing")
    assert no_vendor_called(stack)


@pytest.mark.parametrize(
    ("path", "check"),
    [(OPENAI_PATH, assert_openai_error), (ANTHROPIC_PATH, assert_anthropic_error)],
    ids=["openai", "anthropic"],
)
def test_oversized_body(make_stack: StackFactory, path: str, check: Any) -> None:
    stack = make_stack(max_body_bytes=4096)
    body = {**GOOD_ANTHROPIC, "messages": [{"role": "user", "content": "x" * 10_000}]}
    check(post_json(stack, path, body), 413, "4096")
    assert no_vendor_called(stack)


def test_oversized_body_through_the_sdks(make_stack: StackFactory) -> None:
    stack = make_stack(max_body_bytes=4096)
    big = "x" * 10_000
    with pytest.raises(anthropic.APIStatusError) as an_caught:
        stack.anthropic().messages.create(
            model="an", max_tokens=10, messages=[{"role": "user", "content": big}]
        )
    assert an_caught.value.status_code == 413
    with pytest.raises(openai.APIStatusError) as oa_caught:
        stack.openai().chat.completions.create(
            model="oa", messages=[{"role": "user", "content": big}]
        )
    assert oa_caught.value.status_code == 413


def test_count_tokens_validates_like_messages(stack: Stack) -> None:
    path = "/v1/messages/count_tokens"
    assert_anthropic_error(post_json(stack, path, {"model": "an"}), 400, "messages")
    assert_anthropic_error(post(stack, path, b"{nope"), 400, "not valid JSON")
    response = post_json(
        stack, path, {"model": "an", "messages": [{"role": "user", "content": "a b c d"}]}
    )
    assert response.status_code == 200 and response.json()["input_tokens"] > 0


def test_both_credential_styles_are_accepted_and_never_forwarded(stack: Stack) -> None:
    for headers in ({"x-api-key": CLIENT_KEY}, {"authorization": f"Bearer {CLIENT_KEY}"}):
        for path, body, profile in (
            (ANTHROPIC_PATH, GOOD_ANTHROPIC, "oa"),
            (ANTHROPIC_PATH, GOOD_ANTHROPIC, "an"),
            (OPENAI_PATH, GOOD_OPENAI, "an"),
            (OPENAI_PATH, GOOD_OPENAI, "ge"),
        ):
            response = HTTP.post(
                f"{stack.base_url}{path}",
                json={**body, "model": profile},
                headers={**headers, "anthropic-version": "2023-06-01"},
            )
            assert response.status_code == 200, response.text
            request = stack.fake(profile).last_request
            assert request.credential == stack.keys()[profile]
            assert all(CLIENT_KEY not in value for value in request.headers.values())


def user_blocks(*blocks: Any) -> dict[str, Any]:
    return {**GOOD_ANTHROPIC, "messages": [{"role": "user", "content": list(blocks)}]}


# Bodies whose outline is fine but whose blocks are wrong: only translation reads them.
UNTRANSLATABLE: list[tuple[str, dict[str, Any], str]] = [
    ("text_not_string", user_blocks({"type": "text", "text": 5}), "messages[0].content[0].text"),
    ("image_without_source", user_blocks({"type": "image"}), "messages[0].content[0].source"),
    (
        "image_from_files_api",
        user_blocks({"type": "image", "source": {"type": "file", "file_id": "f"}}),
        "messages[0].content[0].source.type",
    ),
    (
        "tool_result_content_number",
        user_blocks({"type": "tool_result", "tool_use_id": "t", "content": 5}),
        "messages[0].content[0].content",
    ),
    ("document_block", user_blocks({"type": "document", "source": {}}), "'document'"),
    (
        "tool_use_in_user_turn",
        user_blocks({"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        "tool_use blocks belong in assistant turns",
    ),
    (
        "tool_input_not_object",
        {
            **GOOD_ANTHROPIC,
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": [1]}],
                },
            ],
        },
        "messages[1].content[0].input",
    ),
    (
        "server_tool",
        {**GOOD_ANTHROPIC, "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        "tools[0].type",
    ),
    ("metadata_user_not_string", {**GOOD_ANTHROPIC, "metadata": {"user_id": 5}}, "user_id"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("profile", ["oa", "ge"])
@pytest.mark.parametrize(
    ("name", "body", "words"), UNTRANSLATABLE, ids=[c[0] for c in UNTRANSLATABLE]
)
def test_untranslatable_anthropic_bodies_are_400s(
    stack: Stack, name: str, body: dict[str, Any], words: str, profile: str, stream: bool
) -> None:
    response = post_json(stack, ANTHROPIC_PATH, {**body, "model": profile, "stream": stream})
    assert_anthropic_error(response, 400, words)
    assert no_vendor_called(stack)


@pytest.mark.parametrize(
    ("path", "check", "good", "profile"),
    [
        (OPENAI_PATH, assert_openai_error, GOOD_OPENAI, "oa"),
        (ANTHROPIC_PATH, assert_anthropic_error, GOOD_ANTHROPIC, "an"),
        (ANTHROPIC_PATH, assert_anthropic_error, GOOD_ANTHROPIC, "oa"),
    ],
    ids=["openai-native", "anthropic-native", "anthropic-to-openai"],
)
def test_a_body_nested_deeper_than_can_be_forwarded_is_a_400(
    stack: Stack, path: str, check: Any, good: dict[str, Any], profile: str
) -> None:
    # JSON parses up to 1,024 levels but is written out to at most 254: such a body
    # once got a 500 and a traceback in the log. A deep tool schema is the likely case.
    deep: Any = {"type": "string"}
    for _ in range(300):
        deep = {"type": "object", "properties": {"x": deep}}
    if path == OPENAI_PATH:
        tools = [{"type": "function", "function": {"name": "f", "parameters": deep}}]
    else:
        tools = [{"name": "f", "input_schema": deep}]
    body = {**good, "model": profile, "tools": tools}
    check(post_json(stack, path, body), 400, "nested too deeply")
    if path == ANTHROPIC_PATH:
        check(post_json(stack, f"{path}/count_tokens", body), 400, "nested too deeply")
    assert no_vendor_called(stack)
