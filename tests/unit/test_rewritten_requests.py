"""A request whose conversation was rewritten (compressed) and is re-encoded for a vendor
of the client's own protocol keeps the fields the internal shape does not hold."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.chat.content import Message, Text
from switchpoint.chat.request import ChatRequest
from switchpoint.config.loader import parse_config
from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC
from switchpoint.protocols.anthropic.request import decode_request as decode_anthropic
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.protocols.openai.request import decode_request as decode_openai
from switchpoint.providers.registry import build_adapters
from switchpoint.transport.http_client import HttpClient

CONFIG = {
    "providers": {
        "oa": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "K"},
        "an": {"type": "anthropic", "base_url": "http://127.0.0.1:9", "api_key_env": "K"},
    },
    "routing": {
        "default_profile": "p",
        "profiles": {
            "p": {"model": "gpt-x", "provider": "oa", "max_context": 100_000, "cost_weight": 1}
        },
    },
}


def rewritten_body(provider: str, request: ChatRequest) -> dict[str, Any]:
    adapters = build_adapters(parse_config(CONFIG), HttpClient(), {"K": "key"})
    summary = [Message("user", [Text("[summary of the earlier turns]")])]
    conversation = request.conversation()
    conversation.messages = summary + conversation.messages[-1:]
    replaced = request.replaced(conversation)
    assert not replaced.native
    body: bytes = adapters[provider]._body(replaced, "m", stream=False)  # type: ignore[attr-defined]
    decoded: dict[str, Any] = orjson.loads(body)
    return decoded


def test_an_openai_request_keeps_its_answer_shape_and_sampling_when_rewritten() -> None:
    fields = {
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}},
        "seed": 7,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 3,
        "frequency_penalty": 0.5,
        "reasoning_effort": "low",
    }
    body = {
        "model": "p",
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": "second"},
        ],
        **fields,
    }
    sent = rewritten_body("oa", ChatRequest(OPENAI, body, stream=False, decoder=decode_openai))
    assert sent["messages"][0]["content"] == "[summary of the earlier turns]"
    assert {key: sent[key] for key in fields} == fields


def test_an_anthropic_request_keeps_its_thinking_when_rewritten() -> None:
    body = {
        "model": "p",
        "max_tokens": 100,
        "thinking": {"type": "enabled", "budget_tokens": 50},
        "top_k": 5,
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": "second"},
        ],
    }
    request = ChatRequest(ANTHROPIC, body, stream=False, decoder=decode_anthropic)
    sent = rewritten_body("an", request)
    assert (sent["thinking"], sent["top_k"]) == (body["thinking"], 5)
