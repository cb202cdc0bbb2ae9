"""Answers of every shape but the right one: a vendor's valid answer, whole or streamed,
with fields replaced by values of the wrong type, removed or added. Whatever comes back
from upstream, the client gets an answer or an error in its own protocol (a 502 for an
answer that is not one), never a 500.

Deterministic (fixed seeds): the mutated answer is in the assertion message."""

from __future__ import annotations

import json
import random
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, PROFILES, Stack, StackFactory
from tests.e2e.test_fuzzed_requests import mutated
from tests.fakes import RawResponse

WHOLE: dict[str, dict[str, Any]] = {
    "oa": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "hi",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 2,
            "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 1},
        },
    },
    "an": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "text", "text": "hi"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 1},
    },
    "ge": {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "hm", "thought": True},
                        {"text": "hi"},
                        {"functionCall": {"name": "f", "args": {"a": 1}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        "modelVersion": "gemini-test",
        "responseId": "r1",
    },
}

# The events of a streamed answer, as each vendor sends them.
STREAMED: dict[str, list[dict[str, Any]]] = {
    "oa": [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ]
                    },
                    "finish_reason": None,
                }
            ],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
        },
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        },
    ],
    "an": [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ],
    "ge": [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}],
            "modelVersion": "g",
            "responseId": "r",
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": "f", "args": {}}}],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 2,
                "totalTokenCount": 7,
            },
        },
    ],
}

HEADERS = {
    "authorization": f"Bearer {CLIENT_KEY}",
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}
QUESTION = [{"role": "user", "content": "hi"}]


def sse(profile: str, events: list[dict[str, Any]]) -> bytes:
    frames = []
    for event in events:
        name = (
            f"event: {event.get('type')}\n" if profile == "an" and isinstance(event, dict) else ""
        )
        frames.append(f"{name}data: {json.dumps(event)}\n\n")
    if profile == "oa":
        frames.append("data: [DONE]\n\n")
    return "".join(frames).encode()


def ask(stack: Stack, profile: str, protocol: str, stream: bool) -> tuple[int, str]:
    if protocol == "openai":
        path, body = "/v1/chat/completions", {"model": profile, "messages": QUESTION}
    else:
        path = "/v1/messages"
        body = {"model": profile, "max_tokens": 50, "messages": QUESTION}
    body["stream"] = stream
    try:
        response = HTTP.post(f"{stack.base_url}{path}", json=body, headers=HEADERS, timeout=30)
    except httpx2.RemoteProtocolError as exc:
        # A stream cut without its last chunk: what the server does when a stream fails
        # in a way nothing understood (the streaming form of a 500).
        return 0, f"stream cut: {exc}"
    return response.status_code, response.text


def failures(stack: Stack, profile: str, stream: bool, count: int, seed: str) -> list[str]:
    """What went wrong over `count` mutated answers; also checks both outcomes occur."""
    rng = random.Random(seed)
    fake = stack.fake(profile)
    found: list[str] = []
    statuses: set[int] = set()
    for _ in range(count):
        if stream:
            events = mutated({"events": STREAMED[profile]}, rng).get("events")
            raw = sse(profile, events if isinstance(events, list) else [events])
            fault = RawResponse(status=200, body=raw, content_type="text/event-stream")
        else:
            raw = json.dumps(mutated(WHOLE[profile], rng)).encode()
            fault = RawResponse(status=200, body=raw)
        protocol = rng.choice(["openai", "anthropic"])
        fake.enqueue(fault)
        status, text = ask(stack, profile, protocol, stream)
        statuses.add(status)
        if status not in (200, 502) or "Traceback" in text:
            found.append(f"{protocol}: {status} {text[:300]}\n  answer: {raw.decode()[:700]}")
    expected = {200} if stream else {200, 502}
    if not expected <= statuses:
        found.append(f"the mutations did not reach every outcome: {statuses}")
    return found


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("profile", PROFILES)
def test_mutated_answers_never_get_a_500(
    make_stack: StackFactory, profile: str, stream: bool
) -> None:
    # Breakers off: a run of broken answers would open them, and the rest get 503.
    stack = make_stack(breaker_min_requests=10**9)
    found = failures(stack, profile, stream, 150, f"{profile}-{stream}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("profile", PROFILES)
def test_mutated_streams_are_read_by_the_sdks_accumulators(
    make_stack: StackFactory, profile: str
) -> None:
    """The official SDKs' stream helpers (which rebuild the message and parse tool input
    as it streams) get a stream they can read, or an error of their own kind."""
    stack = make_stack(breaker_min_requests=10**9)
    rng = random.Random(f"sdk-{profile}")
    found: list[str] = []
    for _ in range(150):
        events = mutated({"events": STREAMED[profile]}, rng).get("events")
        raw = sse(profile, events if isinstance(events, list) else [events])
        stack.fake(profile).enqueue(
            RawResponse(status=200, body=raw, content_type="text/event-stream")
        )
        anthropic_client = rng.random() >= 0.5
        try:
            if not anthropic_client:
                with stack.openai().chat.completions.stream(
                    model=profile, messages=QUESTION
                ) as openai_stream:
                    openai_stream.get_final_completion()
            else:
                with stack.anthropic().messages.stream(
                    model=profile, max_tokens=50, messages=QUESTION
                ) as anthropic_stream:
                    anthropic_stream.get_final_message()
        except (openai.APIError, anthropic.APIError):
            continue  # the stream was broken, and the client was told so
        except ValueError as exc:
            # Anthropic's own tool input streams through as it comes (its API guarantees
            # JSON): input it broke fails in the SDK exactly as it would without us.
            if not (anthropic_client and profile == "an" and "tool parameter JSON" in str(exc)):
                found.append(f"ValueError: {exc}\n  answer: {raw.decode()[:700]}")
        except Exception as exc:
            found.append(f"{type(exc).__name__}: {exc}\n  answer: {raw.decode()[:700]}")
    assert not found, "\n".join(found)
