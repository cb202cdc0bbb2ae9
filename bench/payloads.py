"""Chat-completion request bodies of a given size.

Large bodies are many ordinary chat messages (about 4 bytes of text per token, so 4 MB
is about a million tokens), not one giant string: a gateway that parses, counts or
rewrites messages must pay for that the way a long agent conversation makes it pay.
"""

from __future__ import annotations

import orjson

_FILLER = (
    "the agent reads the repository and plans a change then edits files runs tests "
    "reports results and asks for review of each step while tracking cost and context"
)
_WORDS = _FILLER.split(" ")

# Sizes (bytes) named in reports.
SIZES: dict[str, int] = {"1KB": 1024, "100KB": 100 * 1024, "1MB": 1024 * 1024,
                         "4MB": 4 * 1024 * 1024}


def _text(n_chars: int, seed: int) -> str:
    words: list[str] = []
    length = 0
    i = seed
    while length < n_chars:
        word = _WORDS[i % len(_WORDS)]
        words.append(word)
        length += len(word) + 1
        i += 7
    return " ".join(words)[:n_chars]


def chat_body(model: str, *, stream: bool = False, size_bytes: int = 0,
              max_tokens: int = 64) -> bytes:
    """An OpenAI chat-completions body for `model`, padded with messages to about
    `size_bytes` (never less than the smallest valid body)."""
    system = {"role": "system", "content": "You are a helpful assistant."}
    question = {"role": "user", "content": "Say hello."}
    doc: dict[str, object] = {"model": model, "max_tokens": max_tokens,
                              "messages": [system, question]}
    if stream:
        doc["stream"] = True
        doc["stream_options"] = {"include_usage": True}
    base = len(orjson.dumps(doc))
    if size_bytes <= base:
        return orjson.dumps(doc)
    messages: list[dict[str, str]] = []
    overhead = len(orjson.dumps({"role": "assistant", "content": ""})) + 1
    remaining = size_bytes - base
    turn = 0
    while remaining > overhead:
        chunk = min(4096, remaining - overhead)
        role = "user" if turn % 2 == 0 else "assistant"
        messages.append({"role": role, "content": _text(chunk, turn)})
        remaining -= chunk + overhead
        turn += 1
    doc["messages"] = [system, *messages, question]
    return orjson.dumps(doc)


def responses_body(chat: bytes) -> bytes:
    """The same conversation as an OpenAI Responses body: system prompt as
    `instructions`, the other messages as `input`, `max_output_tokens`."""
    doc = orjson.loads(chat)
    messages = doc.pop("messages")
    system = [m["content"] for m in messages if m["role"] == "system"]
    doc["instructions"] = "\n\n".join(system)
    doc["input"] = [m for m in messages if m["role"] != "system"]
    doc["max_output_tokens"] = doc.pop("max_tokens")
    doc.pop("stream_options", None)
    return orjson.dumps(doc)

