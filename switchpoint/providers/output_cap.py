"""A request's output maximum, capped to what the target model can write.

The gateway picks the model, so a client cannot know its limit: a maximum above it would
reach the vendor and come back as a 400 that ends the call. The cap is applied to the
body an adapter is about to send (a copy: the client's own body is never changed), in
whichever field the vendor's protocol keeps the maximum; the conversation is not decoded.
"""

from __future__ import annotations

from typing import Any

# Where each vendor protocol keeps the output maximum (OpenAI Chat Completions takes
# either name: compatible servers read the older `max_tokens`).
OPENAI_CHAT_FIELDS = ("max_completion_tokens", "max_tokens")
RESPONSES_FIELDS = ("max_output_tokens",)
ANTHROPIC_FIELDS = ("max_tokens",)
# Inside Gemini's `generationConfig`.
GEMINI_FIELDS = ("maxOutputTokens",)


def cap_fields(body: dict[str, Any], fields: tuple[str, ...], limit: int) -> bool:
    """Lower each of `fields` in `body` that is an integer above `limit` to `limit`; True
    if any was. `body` must be the adapter's own copy (its top level is written)."""
    capped = False
    for name in fields:
        value = body.get(name)
        # `type() is int`: a bool is not a maximum (ingress refuses both anyway).
        if type(value) is int and value > limit:
            body[name] = limit
            capped = True
    return capped


def cap_gemini(body: dict[str, Any], limit: int) -> bool:
    """`cap_fields` for Gemini, whose maximum is in `generationConfig` (a dict the encoder
    built for this request, so it is written in place)."""
    generation = body.get("generationConfig")
    return isinstance(generation, dict) and cap_fields(generation, GEMINI_FIELDS, limit)


def cap_thinking_budget(body: dict[str, Any], limit: int) -> None:
    """After `max_tokens` was capped to `limit`: Anthropic refuses a thinking budget that
    is not below `max_tokens`, so a larger one is lowered to `limit - 1` (in a copy of
    the client's `thinking` object)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return
    budget = thinking.get("budget_tokens")
    if type(budget) is int and budget >= limit:
        body["thinking"] = {**thinking, "budget_tokens": max(1, limit - 1)}
