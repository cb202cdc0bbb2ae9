"""A quick estimate of a request's context size from its wire body.

About four characters per token for English and code, one per CJK character; message
framing adds a few tokens per message. This is the routing layer's fallback estimate;
exact counts come from the tokens package where a tokenizer is available.
"""

from __future__ import annotations

from typing import Any

_PER_MESSAGE = 4


def estimate_body_tokens(body: dict[str, Any]) -> int:
    chars = 0
    non_ascii = 0
    messages = body.get("messages")
    count = 0
    if isinstance(messages, list):
        count = len(messages)
        for message in messages:
            if isinstance(message, dict):
                c, n = _measure(message.get("content"))
                chars += c
                non_ascii += n
                calls = message.get("tool_calls")
                if calls:
                    c, n = _measure(calls)
                    chars += c
                    non_ascii += n
    for key in ("system", "tools"):
        value = body.get(key)
        if value:
            c, n = _measure(value)
            chars += c
            non_ascii += n
    return (chars - non_ascii) // 4 + non_ascii + count * _PER_MESSAGE


def _measure(value: object) -> tuple[int, int]:
    """(characters, of which non-ASCII) in every string inside `value`."""
    if isinstance(value, str):
        return len(value), 0 if value.isascii() else sum(1 for ch in value if ord(ch) > 127)
    if isinstance(value, list):
        chars = non_ascii = 0
        for item in value:
            c, n = _measure(item)
            chars += c
            non_ascii += n
        return chars, non_ascii
    if isinstance(value, dict):
        chars = non_ascii = 0
        for key, item in value.items():
            if key in ("type", "role", "id", "tool_call_id", "tool_use_id"):
                continue
            c, n = _measure(item)
            chars += c
            non_ascii += n
        return chars, non_ascii
    return 0, 0
