"""Requests of every shape but the right one: valid requests with fields replaced by
values of the wrong type, removed, or added, sent through both client protocols to every
vendor. Whatever the mutation, the answer is an answer or an error in the client's
protocol, never a 500 (a crash the gateway did not understand).

Deterministic (fixed seeds), so a failure here is reproducible: the mutated body is in
the assertion message."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, PROFILES, Stack

WRONG_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 1e308, 2**70, "", "x", "💥", [], [None], {}, {"a": 1}, [[[]]],
    {"type": None}, {"type": []}, "\x00",
]  # fmt: skip

OPENAI_REQUEST: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "max_tokens": 50,
    "temperature": 0.5,
    "stop": ["zz"],
    "stream_options": {"include_usage": True},
    "metadata": {"a": "b"},
}
ANTHROPIC_REQUEST: dict[str, Any] = {
    "max_tokens": 50,
    "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "t", "signature": "sig"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "r"}],
                }
            ],
        },
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "auto"},
    "stop_sequences": ["zz"],
    "metadata": {"user_id": "u"},
    "temperature": 0.2,
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*prefix, index))


def mutated(base: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(base))
    for _ in range(rng.randint(1, 3)):
        candidates = [p for p in paths(body) if p]
        if not candidates:
            break
        path = rng.choice(candidates)
        parent: Any = body
        for key in path[:-1]:
            parent = parent[key]
        roll = rng.random()
        if roll < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(WRONG_VALUES))
        elif roll < 0.8:
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        elif isinstance(parent, dict):
            key = rng.choice(["type", "role", "content", "n", "extra"])
            parent[key] = copy.deepcopy(rng.choice(WRONG_VALUES))
    return body


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("profile", PROFILES)
def test_mutated_requests_never_get_a_500(stack: Stack, profile: str, protocol: str) -> None:
    rng = random.Random(f"{protocol}-{profile}")
    base = OPENAI_REQUEST if protocol == "openai" else ANTHROPIC_REQUEST
    path = "/v1/chat/completions" if protocol == "openai" else "/v1/messages"
    headers = {
        "authorization": f"Bearer {CLIENT_KEY}",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    statuses: set[int] = set()
    for _ in range(300):
        body = mutated(base, rng)
        body["model"] = profile
        body["stream"] = rng.random() < 0.3
        content = json.dumps(body)
        response = HTTP.post(
            f"{stack.base_url}{path}", content=content, headers=headers, timeout=30
        )
        statuses.add(response.status_code)
        assert response.status_code != 500, f"{response.text[:400]}\nrequest: {content}"
        assert "Traceback" not in response.text, content
        if response.status_code >= 400:
            # Both protocols put the reason at error.message.
            assert response.json()["error"]["message"], content
    # The mutations reach both sides: some requests are still answered, some refused.
    assert 200 in statuses and any(400 <= status < 500 for status in statuses), statuses
