"""OpenAI chat completion bodies <-> `ChatResponse`."""

from __future__ import annotations

import time
from typing import Any

import orjson

from switchpoint.chat.content import Block, Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai import PROTOCOL
from switchpoint.protocols.stop_reasons import INTERNAL_TO_OPENAI, OPENAI_TO_INTERNAL
from switchpoint.protocols.token_counts import token_count


class MalformedResponse(ValueError):
    """The provider answered 200 with a body that is not the answer its API promises
    (a chat completion, a completed Responses object)."""


def decode_usage(usage: object) -> Usage | None:
    """None when absent or when a count is not one (the usage is then estimated, rather
    than billed from garbage)."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prompt = token_count(usage.get("prompt_tokens") or 0)
    completion = token_count(usage.get("completion_tokens") or 0)
    cached_count = token_count(cached or 0)
    if prompt is None or completion is None or cached_count is None:
        return None
    decoded = Usage(input_tokens=prompt, output_tokens=completion, cached_input_tokens=cached_count)
    output_details = usage.get("completion_tokens_details")
    if isinstance(output_details, dict):
        # Part of the output: a bad figure here is dropped, the billed counts stand.
        decoded.reasoning_tokens = token_count(output_details.get("reasoning_tokens") or 0) or 0
    return decoded


def decode_response(raw: bytes) -> ChatResponse:
    try:
        body = orjson.loads(raw)
        choice = body["choices"][0]
        message = choice["message"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        raise MalformedResponse("not a chat completion") from None
    if not isinstance(message, dict):
        raise MalformedResponse("choices[0].message is not an object")
    content: list[Block] = []
    # DeepSeek's name for it, and vLLM's (and OpenRouter's) since 2025.
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(Thinking(reasoning))
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append(Text(text))
    refusal = message.get("refusal")
    refused = False
    if isinstance(refusal, str) and refusal:
        refused = True
        # OpenAI says why it refused apart from the content; of other protocols, only
        # the Responses API has a place for it, the others take it as text with their
        # own refusal stop.
        content.append(Text(refusal, refusal=True))
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise MalformedResponse("choices[0].message.tool_calls is not an array")
    for index, call in enumerate(calls or ()):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise MalformedResponse(f"choices[0].message.tool_calls[{index}] is not a call")
        name = function.get("name")
        arguments = function.get("arguments", "")
        if not isinstance(name, str) or not isinstance(arguments, str):
            raise MalformedResponse(
                f"choices[0].message.tool_calls[{index}] has no name or its arguments "
                "are not a string"
            )
        call_id = call.get("id", "")
        content.append(ToolCall(call_id if isinstance(call_id, str) else "", name, arguments))
    finish = choice.get("finish_reason") or "stop"
    stop = OPENAI_TO_INTERNAL.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    return ChatResponse(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=content,
        # A refusal ends with "stop" in this API; in the internal shape, a filter.
        stop_reason="content_filter" if refused and stop == "end_turn" else stop,
        usage=decode_usage(body.get("usage")),
        raw=raw,
        raw_protocol=PROTOCOL,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
    }
    if usage.reasoning_tokens:
        # Only when known: a vendor that does not say (Anthropic) is not reported as 0.
        encoded["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return encoded


def encode_response(response: ChatResponse) -> bytes:
    if response.raw is not None and response.raw_protocol == PROTOCOL:
        return response.raw
    content = response.content
    text = "".join(b.text for b in content if type(b) is Text and not b.refusal)
    # Why a model refused (OpenAI's or a Responses model's), in its own field: the
    # SDK's `parse()` reads `content` as the answer.
    refusal = "".join(b.text for b in content if type(b) is Text and b.refusal) or None
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": refusal}
    calls = [
        {"id": b.id, "type": "function", "function": {"name": b.name, "arguments": b.arguments}}
        for b in response.content
        if isinstance(b, ToolCall)
    ]
    if calls:
        message["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": response.id if response.id.startswith("chatcmpl") else f"chatcmpl-{response.id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                # A model that refused has answered: OpenAI says `stop`.
                "finish_reason": "stop"
                if refusal is not None and response.stop_reason == "content_filter"
                else INTERNAL_TO_OPENAI[response.stop_reason],
                "logprobs": None,
            }
        ],
    }
    if response.usage is not None:
        body["usage"] = encode_usage(response.usage)
    return orjson.dumps(body)
