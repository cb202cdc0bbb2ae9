"""A complete (non-streamed) answer in the internal shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from switchpoint.chat.content import Block, Text, ToolCall
from switchpoint.chat.usage import Usage

# `context_window_exceeded`: the answer was cut because the model's context window was
# full (Anthropic's `model_context_window_exceeded`), not by the request's maximum.
StopReason = Literal[
    "end_turn",
    "max_tokens",
    "context_window_exceeded",
    "stop_sequence",
    "tool_use",
    "content_filter",
    "pause_turn",
]


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    content: list[Block]
    stop_reason: StopReason
    usage: Usage | None
    # The provider's own body, kept so that a same-protocol answer is passed back as is.
    raw: bytes | None = None
    raw_protocol: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, Text))

    def tool_calls(self) -> list[ToolCall]:
        return [b for b in self.content if isinstance(b, ToolCall)]
