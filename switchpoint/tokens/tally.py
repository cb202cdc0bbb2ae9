"""What a chat request is made of, as far as counting its tokens goes.

A `Tally` is the list of every text the model will tokenize plus the counts of the
structural things that cost fixed tokens (messages, names, tool calls, images...). It is
read straight from the client's wire body while the request is native, so that the hot
path never pays for decoding to a `Conversation`, and from the `Conversation` otherwise.

Not counted as text: base64 image/document payloads (images cost a per-image amount),
tool-call ids, signatures, and the reasoning of assistant turns before the last one
(Anthropic drops earlier turns' thinking from the context; other vendors take none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from switchpoint.chat.content import Image, Message, Text, Thinking, ToolCall, ToolResult
from switchpoint.chat.request import ChatRequest, Conversation

ToolDef = tuple[str, str | None, Mapping[str, Any] | None]


@dataclass(slots=True)
class Tally:
    texts: list[str] = field(default_factory=list)
    # Texts whose tokens are only roughly what the vendor bills (unknown block types,
    # structured-output schemas): counted, and half their tokens go into the error bound.
    uncertain_texts: list[str] = field(default_factory=list)
    messages: int = 0
    names: int = 0
    tool_calls: int = 0
    tool_results: int = 0
    images: int = 0
    tools: list[ToolDef] = field(default_factory=list)
    # A whole request is billed the tokens that prime the reply; a part of one is not.
    reply_priming: bool = True


# A part of an unknown type larger than this is taken for a media payload (audio, a file,
# base64 anyway): priced as one image, not tokenized as megabytes of text.
_MEDIA_JSON_CHARS = 2048


def _unknown(part: Any, tally: Tally) -> None:
    text = _json_text(part)
    if len(text) > _MEDIA_JSON_CHARS:
        tally.images += 1
    else:
        tally.uncertain_texts.append(text)


def _text(value: object) -> str:
    """`value` if it is a string, else "": a tally is taken before the request is
    validated (the translation that validates it may never be needed), so a field of the
    wrong type counts for nothing here and is refused where it is read."""
    return value if value.__class__ is str else ""


def _list(value: object) -> list[Any]:
    return value if value.__class__ is list else []


def _tool_def(name: object, description: object, schema: object) -> ToolDef:
    return (
        _text(name),
        description if description.__class__ is str else None,
        schema if isinstance(schema, Mapping) else None,
    )


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def tally_openai_chat(body: Mapping[str, Any]) -> Tally:
    tally = Tally()
    texts = tally.texts
    append = texts.append
    messages = body.get("messages") or ()
    tally.messages = len(messages)
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if content.__class__ is str:
            append(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                kind = part.get("type")
                if kind == "text" or kind == "input_text":
                    append(_text(part.get("text")))
                elif kind == "image_url" or kind == "input_image":
                    tally.images += 1
                elif kind == "refusal":
                    append(_text(part.get("refusal")))
                else:
                    _unknown(part, tally)
        # Most messages have only a role and a content: one length check skips the rest.
        if len(message) > 2:
            role = message.get("role")
            if role == "tool" or role == "function":
                tally.tool_results += 1
            elif role == "assistant":
                calls = message.get("tool_calls")
                if calls.__class__ is list:
                    for call in calls:
                        function = call.get("function") if call.__class__ is dict else None
                        tally.tool_calls += 1
                        if function.__class__ is dict:
                            append(_text(function.get("name")))
                            append(_json_text(function.get("arguments") or ""))
                legacy_call = message.get("function_call")
                if legacy_call.__class__ is dict:
                    tally.tool_calls += 1
                    append(_text(legacy_call.get("name")))
                    append(_json_text(legacy_call.get("arguments") or ""))
                refusal = message.get("refusal")
                if refusal.__class__ is str:
                    append(refusal)
            name = message.get("name")
            if name and name.__class__ is str:
                tally.names += 1
                append(name)
    for tool in _list(body.get("tools")):
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            tally.tools.append(
                _tool_def(
                    function.get("name"), function.get("description"), function.get("parameters")
                )
            )
        elif isinstance(tool, dict):
            tally.uncertain_texts.append(_json_text(tool))
    for function in _list(body.get("functions")):
        if isinstance(function, dict):
            tally.tools.append(
                _tool_def(
                    function.get("name"), function.get("description"), function.get("parameters")
                )
            )
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        tally.uncertain_texts.append(_json_text(response_format.get("json_schema")))
    return tally


def _anthropic_blocks(blocks: list[Any], tally: Tally, thinking: list[str] | None) -> None:
    append = tally.texts.append
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            append(_text(block.get("text")))
        elif kind == "tool_use" or kind == "server_tool_use":
            tally.tool_calls += 1
            append(_text(block.get("name")))
            append(_json_text(block.get("input") or {}))
        elif kind == "tool_result":
            tally.tool_results += 1
            inner = block.get("content")
            if inner.__class__ is str:
                append(inner)
            elif isinstance(inner, list):
                _anthropic_blocks(inner, tally, None)
        elif kind == "image" or kind == "document":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "text":
                append(_text(source.get("data")))
            else:
                tally.images += 1
        elif kind == "thinking":
            if thinking is not None:
                thinking.append(_text(block.get("thinking")))
        elif kind == "redacted_thinking":
            pass
        else:
            _unknown(block, tally)


def tally_anthropic_messages(body: Mapping[str, Any]) -> Tally:
    tally = Tally()
    append = tally.texts.append
    system = body.get("system")
    if system.__class__ is str:
        if system:
            append(system)
            tally.messages += 1
    elif isinstance(system, list) and system:
        tally.messages += 1
        _anthropic_blocks(system, tally, None)
    messages = body.get("messages") or ()
    tally.messages += len(messages)
    last_thinking: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if content.__class__ is str:
            append(content)
        elif isinstance(content, list):
            if message.get("role") == "assistant":
                last_thinking = []
                _anthropic_blocks(content, tally, last_thinking)
            else:
                _anthropic_blocks(content, tally, None)
    tally.texts.extend(last_thinking)
    for tool in _list(body.get("tools")):
        if not isinstance(tool, dict):
            continue
        if "input_schema" in tool or "type" not in tool or tool.get("type") == "custom":
            tally.tools.append(
                _tool_def(tool.get("name"), tool.get("description"), tool.get("input_schema"))
            )
        else:
            # A server tool (web search, code execution...): its definition is the vendor's.
            append(_text(tool.get("name")))
    return tally


def add_message(tally: Tally, message: Message, *, with_thinking: bool) -> None:
    """Add one internal-shape message to `tally` (`with_thinking`: it is the last
    assistant turn, whose reasoning is still billed)."""
    append = tally.texts.append
    tally.messages += 1
    for block in message.content:
        if isinstance(block, Text):
            append(block.text)
        elif isinstance(block, ToolCall):
            tally.tool_calls += 1
            append(block.name)
            append(block.arguments)
        elif isinstance(block, ToolResult):
            tally.tool_results += 1
            for item in block.content:
                if isinstance(item, Text):
                    append(item.text)
                else:
                    tally.images += 1
        elif isinstance(block, Image):
            tally.images += 1
        elif isinstance(block, Thinking) and with_thinking:
            append(block.text)


def tally_conversation(conversation: Conversation) -> Tally:
    tally = Tally()
    if conversation.system:
        tally.messages += 1
        tally.texts.extend(part.text for part in conversation.system)
    last_assistant = max(
        (i for i, m in enumerate(conversation.messages) if m.role == "assistant"), default=-1
    )
    for index, message in enumerate(conversation.messages):
        add_message(tally, message, with_thinking=index == last_assistant)
    tally.tools.extend(
        (spec.name, spec.description, spec.parameters) for spec in conversation.tools
    )
    return tally


def tally_request(request: ChatRequest) -> Tally:
    """The tally of `request`, from its wire body when it is still native."""
    if request.native:
        if request.protocol == "openai_chat":
            return tally_openai_chat(request.body)
        if request.protocol == "anthropic_messages":
            return tally_anthropic_messages(request.body)
    return tally_conversation(request.conversation())
