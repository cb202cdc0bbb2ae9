"""Content blocks: the parts a message is made of, independent of any vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# Anthropic's prompt-caching marker (e.g. `{"type": "ephemeral"}`). Only Anthropic reads it;
# it rides along on the blocks so that Anthropic -> internal -> Anthropic keeps it.
CacheControl = dict[str, Any]


@dataclass(slots=True)
class Text:
    """`refusal`: the text says why the model refused (OpenAI's `refusal`), not what it
    answered. Only the Responses API has a part of its own for it; other protocols take
    it as text, with their refusal stop."""

    text: str
    cache_control: CacheControl | None = None
    refusal: bool = False


@dataclass(slots=True)
class Image:
    """An image given inline (base64 `data` with `media_type`) or by `url`."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    cache_control: CacheControl | None = None


@dataclass(slots=True)
class ToolCall:
    """A model's request to call a tool.

    `arguments` is the JSON text exactly as the model produced it: OpenAI sends it as a
    string that may not even parse, so the text, not a dict, is what survives a round trip.
    """

    id: str
    name: str
    arguments: str
    cache_control: CacheControl | None = None


@dataclass(slots=True)
class ToolResult:
    tool_call_id: str
    content: list[Text | Image] = field(default_factory=list)
    is_error: bool = False
    # Gemini matches results to calls by function name, not id.
    name: str | None = None
    cache_control: CacheControl | None = None


@dataclass(slots=True)
class Thinking:
    """Reasoning text a model exposed. Only Anthropic accepts it back (with its signature)."""

    text: str
    signature: str | None = None
    redacted_data: str | None = None


Block = Text | Image | ToolCall | ToolResult | Thinking

Role = Literal["user", "assistant"]


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Block]
    # The client asked that this message survive context compression.
    keep: bool = False

    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, Text))


@dataclass(slots=True)
class ToolSpec:
    name: str
    description: str | None
    parameters: dict[str, Any]
    cache_control: CacheControl | None = None
    # OpenAI's strict mode (arguments that always match the schema), as the client set
    # it: OpenAI's two APIs differ in what they assume when it is not set.
    strict: bool | None = None


@dataclass(slots=True)
class JsonOutput:
    """The answer must be a JSON value, one matching `schema` when there is one.
    `name` and `strict` are OpenAI's (its schema format requires a name)."""

    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


@dataclass(slots=True)
class ToolChoice:
    """`auto`, `none`, `required` (any tool), or `tool` with `name` (that tool)."""

    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None
    parallel: bool | None = None
