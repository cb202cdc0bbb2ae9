"""Checks on what an upstream received: it fits, nothing was split or lost."""

from __future__ import annotations

from typing import Any

from switchpoint.chat.request import ChatRequest
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.tokens.counter import TokenCounter

SUMMARY_MARK = "[switchpoint: summary of "
_COUNTER = TokenCounter()


def exact_tokens(body: dict[str, Any], model: str = "gpt-4o") -> int:
    """The o200k count of an OpenAI chat body (what OpenAI would bill)."""
    request = ChatRequest(OPENAI, body, stream=False)
    count = _COUNTER.count(request, model=model, provider_type="openai", force_exact=True)
    assert count.exact
    return count.tokens


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def turn(message: dict[str, Any]) -> tuple[Any, ...]:
    """An OpenAI message, as content (ignoring how the encoder laid it out)."""
    calls = tuple(
        (c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in message.get("tool_calls") or ()
    )
    return (message["role"], text_of(message), calls, message.get("tool_call_id"))


def tool_pairs_problems(messages: list[dict[str, Any]]) -> list[str]:
    """Every tool call answered by the tool messages right after its assistant message,
    and every tool message answering a call of that assistant message."""
    problems = []
    for i, message in enumerate(messages):
        if message["role"] == "tool":
            j = i
            while j > 0 and messages[j - 1]["role"] == "tool":
                j -= 1
            owner = messages[j - 1] if j > 0 else None
            ids = {c["id"] for c in (owner or {}).get("tool_calls") or ()}
            if message.get("tool_call_id") not in ids:
                problems.append(f"message {i}: a tool result without its call")
        calls = [c["id"] for c in message.get("tool_calls") or ()]
        if calls:
            answered = set()
            for follower in messages[i + 1 :]:
                if follower["role"] != "tool":
                    break
                answered.add(follower.get("tool_call_id"))
            if not set(calls) <= answered:
                problems.append(f"message {i}: a tool call without its result")
    return problems


def common_tail(sent: list[dict[str, Any]], original: list[dict[str, Any]]) -> int:
    """How many trailing messages `sent` and `original` have in common, as content."""
    n = 0
    while n < min(len(sent), len(original)) and turn(sent[-1 - n]) == turn(original[-1 - n]):
        n += 1
    return n
