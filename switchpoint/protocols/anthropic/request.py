"""Anthropic Messages request bodies <-> `Conversation`."""

from __future__ import annotations

import re
from typing import Any

from switchpoint.chat.content import (
    Block,
    Image,
    JsonOutput,
    Message,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolResult,
    ToolSpec,
)
from switchpoint.chat.request import Conversation
from switchpoint.errors import invalid_request
from switchpoint.protocols.fields import (
    expect,
    keep_mark,
    optional,
    optional_number,
    required,
)
from switchpoint.protocols.tool_arguments import arguments_object, arguments_text

KEEP_FLAG = "switchpoint_keep"

ROLES = ("user", "assistant")

# Tool-use ids Anthropic accepts; ids minted by other vendors are mapped onto this.
_VALID_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_INVALID_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def required_max_tokens(body: dict[str, Any]) -> int:
    value: int = required(body, "max_tokens", int)
    if value < 1:
        raise invalid_request(f"'max_tokens' must be at least 1, got {value}", "max_tokens")
    return value


def answer_shape_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields that ask for an answer of a shape a vendor's protocol may not give,
    keyed as OpenAI Chat's are (see `protocols.openai.request.answer_shape_fields`)."""
    spec, param = _output_format(body)
    if spec is None:
        return {}
    return {"response_format": f"'{param}' (JSON output)"}


def prefill_text(body: dict[str, Any]) -> str:
    """The text of the body's trailing assistant turn (a prefill the answer continues),
    "" if it ends otherwise; read from that turn alone, so that the others may hold blocks
    only Anthropic takes (documents, server tools), which an Anthropic target gets as sent."""
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return ""
    content = last.get("content")
    if isinstance(content, str):
        return content
    blocks = content if isinstance(content, list) else ()
    return "".join(
        b["text"]
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def decode_request(body: dict[str, Any]) -> Conversation:
    max_tokens = required_max_tokens(body)
    messages_in = required(body, "messages", list)
    if not messages_in:
        raise invalid_request("'messages' must contain at least one message", "messages")
    messages: list[Message] = []
    for i, raw in enumerate(messages_in):
        param = f"messages[{i}]"
        expect(raw, dict, param)
        role = required(raw, "role", str, f"{param}.role")
        if role not in ROLES:
            raise invalid_request(
                f"'{param}.role' must be 'user' or 'assistant', got {role!r}", f"{param}.role"
            )
        content = _content(raw.get("content"), role, f"{param}.content")
        message = Message(role, content, keep=keep_mark(raw, KEEP_FLAG, param))
        if messages and messages[-1].role == role:
            # Anthropic merges consecutive same-role turns; the internal shape alternates.
            messages[-1].content.extend(message.content)
            messages[-1].keep = messages[-1].keep or message.keep
        else:
            messages.append(message)
    metadata = optional(body, "metadata", dict)
    user = None
    if metadata is not None:
        user = optional(metadata, "user_id", str, "metadata.user_id")
    stops = optional(body, "stop_sequences", list)
    return Conversation(
        messages=messages,
        system=_system(body.get("system")),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens,
        temperature=optional_number(body, "temperature", low=0, high=1),
        top_p=optional_number(body, "top_p", low=0, high=1),
        stop=[expect(s, str, f"stop_sequences[{k}]") for k, s in enumerate(stops or ())],
        user=user,
        json_output=_json_output(body),
    )


def _output_format(body: dict[str, Any]) -> tuple[object, str]:
    """The structured-output request and where it was: `output_config.format`, or the
    top-level `output_format` of the beta it replaced (still accepted by Anthropic)."""
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("format") is not None:
        return config["format"], "output_config.format"
    return body.get("output_format"), "output_format"


def _json_output(body: dict[str, Any]) -> JsonOutput | None:
    optional(body, "output_config", dict)
    found, param = _output_format(body)
    if found is None:
        return None
    spec: dict[str, Any] = expect(found, dict, param)
    kind = required(spec, "type", str, f"{param}.type")
    if kind != "json_schema":
        raise invalid_request(
            f"'{param}.type' must be 'json_schema', got {kind!r}", f"{param}.type"
        )
    # No `strict`: Anthropic always enforces the schema, but OpenAI's strict mode also
    # wants every property required, which Anthropic does not; asking it could fail.
    return JsonOutput(schema=required(spec, "schema", dict, f"{param}.schema"))


def _system(system: object) -> list[Text]:
    if system is None:
        return []
    if isinstance(system, str):
        return [Text(system)] if system else []
    blocks = expect(system, list, "system")
    texts = []
    for j, block in enumerate(blocks):
        p = f"system[{j}]"
        expect(block, dict, p)
        kind = required(block, "type", str, f"{p}.type")
        if kind != "text":
            raise invalid_request(f"'{p}.type' must be 'text', got {kind!r}", f"{p}.type")
        texts.append(Text(required(block, "text", str, f"{p}.text"), _cache(block, p)))
    return texts


def _cache(block: dict[str, Any], param: str) -> dict[str, Any] | None:
    cache: dict[str, Any] | None = optional(block, "cache_control", dict, f"{param}.cache_control")
    return cache


def _content(content: object, role: str, param: str) -> list[Block]:
    if isinstance(content, str):
        return [Text(content)]
    if content is None:
        raise invalid_request(f"'{param}' is required", param)
    blocks_in = expect(content, list, param)
    blocks: list[Block] = []
    for j, block in enumerate(blocks_in):
        p = f"{param}[{j}]"
        expect(block, dict, p)
        kind = required(block, "type", str, f"{p}.type")
        if kind == "text":
            blocks.append(Text(required(block, "text", str, f"{p}.text"), _cache(block, p)))
        elif kind == "image":
            blocks.append(_image(block, p))
        elif kind == "tool_use":
            if role != "assistant":
                raise invalid_request(f"'{p}': tool_use blocks belong in assistant turns", p)
            tool_input = required(block, "input", dict, f"{p}.input")
            blocks.append(
                ToolCall(
                    id=required(block, "id", str, f"{p}.id"),
                    name=required(block, "name", str, f"{p}.name"),
                    arguments=arguments_text(tool_input),
                    cache_control=_cache(block, p),
                )
            )
        elif kind == "tool_result":
            if role != "user":
                raise invalid_request(f"'{p}': tool_result blocks belong in user turns", p)
            blocks.append(_tool_result(block, p))
        elif kind == "thinking":
            blocks.append(
                Thinking(
                    required(block, "thinking", str, f"{p}.thinking"),
                    signature=optional(block, "signature", str, f"{p}.signature"),
                )
            )
        elif kind == "redacted_thinking":
            blocks.append(Thinking("", redacted_data=required(block, "data", str, f"{p}.data")))
        else:
            raise invalid_request(
                f"'{p}.type' {kind!r} cannot be translated for the model serving this request "
                "(supported: text, image, tool_use, tool_result, thinking, redacted_thinking)",
                f"{p}.type",
            )
    return blocks


def _image(block: dict[str, Any], param: str) -> Image:
    source = required(block, "source", dict, f"{param}.source")
    kind = required(source, "type", str, f"{param}.source.type")
    if kind == "base64":
        return Image(
            media_type=required(source, "media_type", str, f"{param}.source.media_type"),
            data=required(source, "data", str, f"{param}.source.data"),
            cache_control=_cache(block, param),
        )
    if kind == "url":
        return Image(
            url=required(source, "url", str, f"{param}.source.url"),
            cache_control=_cache(block, param),
        )
    raise invalid_request(
        f"'{param}.source.type' {kind!r} cannot be translated (supported: base64, url)",
        f"{param}.source.type",
    )


def _tool_result(block: dict[str, Any], param: str) -> ToolResult:
    content = block.get("content")
    parts: list[Text | Image] = []
    if isinstance(content, str):
        parts.append(Text(content))
    elif content is not None:
        for k, item in enumerate(expect(content, list, f"{param}.content")):
            p = f"{param}.content[{k}]"
            expect(item, dict, p)
            kind = required(item, "type", str, f"{p}.type")
            if kind == "text":
                parts.append(Text(required(item, "text", str, f"{p}.text"), _cache(item, p)))
            elif kind == "image":
                parts.append(_image(item, p))
            else:
                raise invalid_request(
                    f"'{p}.type' {kind!r} cannot be translated (supported: text, image)",
                    f"{p}.type",
                )
    is_error = optional(block, "is_error", bool, f"{param}.is_error")
    return ToolResult(
        tool_call_id=required(block, "tool_use_id", str, f"{param}.tool_use_id"),
        content=parts,
        is_error=bool(is_error),
        cache_control=_cache(block, param),
    )


def _tools(tools: object) -> list[ToolSpec]:
    if tools is None:
        return []
    specs = []
    for i, tool in enumerate(expect(tools, list, "tools")):
        p = f"tools[{i}]"
        expect(tool, dict, p)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            # Anthropic's server tools (web search, code execution, ...) exist nowhere else.
            raise invalid_request(
                f"'{p}.type' {kind!r} is an Anthropic server tool; it cannot be translated "
                "for the model serving this request",
                f"{p}.type",
            )
        schema = required(tool, "input_schema", dict, f"{p}.input_schema")
        specs.append(
            ToolSpec(
                name=required(tool, "name", str, f"{p}.name"),
                description=optional(tool, "description", str, f"{p}.description"),
                parameters=schema,
                cache_control=_cache(tool, p),
            )
        )
    return specs


def _tool_choice(value: object) -> ToolChoice | None:
    if value is None:
        return None
    choice: dict[str, Any] = expect(value, dict, "tool_choice")
    kind = required(choice, "type", str, "tool_choice.type")
    disable = optional(
        choice, "disable_parallel_tool_use", bool, "tool_choice.disable_parallel_tool_use"
    )
    parallel = None if disable is None else not disable
    if kind == "auto":
        return ToolChoice("auto", parallel=parallel)
    if kind == "any":
        return ToolChoice("required", parallel=parallel)
    if kind == "none":
        return ToolChoice("none")
    if kind == "tool":
        return ToolChoice(
            "tool", name=required(choice, "name", str, "tool_choice.name"), parallel=parallel
        )
    raise invalid_request(
        f"'tool_choice.type' must be auto, any, tool or none, got {kind!r}", "tool_choice.type"
    )


# --- encoding -------------------------------------------------------------------------


def encode_request(
    conversation: Conversation, model: str, *, stream: bool, max_tokens: int
) -> dict[str, Any]:
    """An Anthropic Messages body. `max_tokens` is required by Anthropic: the caller
    supplies it for a conversation that carries none. Sampling parameters are left out
    (see below)."""
    messages = [m for m in (_encode_message(msg) for msg in conversation.messages) if m]
    _strip_trailing_prefill(messages)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": conversation.max_tokens or max_tokens,
        "messages": messages,
    }
    system = [t for t in conversation.system if t.text]
    if system:
        if len(system) == 1 and system[0].cache_control is None:
            body["system"] = system[0].text
        else:
            body["system"] = [_text(t) for t in system]
    if stream:
        body["stream"] = True
    # No `temperature` / `top_p`: current Claude models (Opus 4.7 on) and API version
    # 2026-10-21 refuse any sampling parameter with a 400, and clients of other protocols
    # send them by habit. An Anthropic client's own are forwarded as sent.
    if conversation.stop:
        body["stop_sequences"] = conversation.stop
    if conversation.user is not None:
        body["metadata"] = {"user_id": conversation.user}
    if conversation.tools:
        body["tools"] = [_tool(t) for t in conversation.tools]
        choice = conversation.tool_choice
        if choice is not None:
            body["tool_choice"] = _encode_tool_choice(choice)
    output = conversation.json_output
    if output is not None and output.schema is not None:
        # Anthropic's structured outputs take a schema; OpenAI's bare JSON mode has no
        # equivalent (the adapter refuses it rather than send it without).
        body["output_config"] = {"format": {"type": "json_schema", "schema": output.schema}}
    return body


def _tool(spec: ToolSpec) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": spec.name}
    if spec.description:
        tool["description"] = spec.description
    schema = spec.parameters
    tool["input_schema"] = (
        schema if schema.get("type") == "object" else {"type": "object", **schema}
    )
    if spec.cache_control is not None:
        tool["cache_control"] = spec.cache_control
    return tool


def _encode_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if choice.mode == "none":
        return {"type": "none"}
    encoded: dict[str, Any]
    if choice.mode == "required":
        encoded = {"type": "any"}
    elif choice.mode == "tool":
        encoded = {"type": "tool", "name": choice.name}
    else:
        encoded = {"type": "auto"}
    if choice.parallel is False:
        encoded["disable_parallel_tool_use"] = True
    return encoded


def _encode_message(message: Message) -> dict[str, Any] | None:
    blocks: list[dict[str, Any]] = []
    if message.role == "user":
        # Anthropic wants a turn's tool results before anything else in it.
        results = [b for b in message.content if isinstance(b, ToolResult)]
        others = [b for b in message.content if not isinstance(b, ToolResult)]
        ordered: list[Block] = [*results, *others]
    else:
        ordered = message.content
    for block in ordered:
        encoded = _encode_block(block, message.role)
        if encoded is not None:
            blocks.append(encoded)
    if not blocks:
        return None
    return {"role": message.role, "content": blocks}


def _encode_block(block: Block, role: str) -> dict[str, Any] | None:
    if isinstance(block, Text):
        return _text(block) if block.text else None
    if isinstance(block, Image):
        return _image_block(block)
    if isinstance(block, ToolCall):
        if role != "assistant":
            return None
        out: dict[str, Any] = {
            "type": "tool_use",
            "id": tool_id(block.id),
            "name": block.name,
            "input": arguments_object(block.arguments),
        }
        if block.cache_control is not None:
            out["cache_control"] = block.cache_control
        return out
    if isinstance(block, ToolResult):
        if role != "user":
            return None
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(block.tool_call_id)}
        content = [
            _text(part) if isinstance(part, Text) else _image_block(part)
            for part in block.content
            if not (isinstance(part, Text) and not part.text)
        ]
        if content:
            result["content"] = content
        if block.is_error:
            result["is_error"] = True
        if block.cache_control is not None:
            result["cache_control"] = block.cache_control
        return result
    # Thinking: only blocks Anthropic signed can go back to it; others are dropped.
    if role != "assistant":
        return None
    if block.redacted_data:
        return {"type": "redacted_thinking", "data": block.redacted_data}
    if block.signature:
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    return None


def _text(block: Text) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text", "text": block.text}
    if block.cache_control is not None:
        out["cache_control"] = block.cache_control
    return out


def _image_block(image: Image) -> dict[str, Any]:
    if image.url is not None:
        source: dict[str, Any] = {"type": "url", "url": image.url}
    else:
        source = {
            "type": "base64",
            "media_type": image.media_type or "image/png",
            "data": image.data or "",
        }
    out: dict[str, Any] = {"type": "image", "source": source}
    if image.cache_control is not None:
        out["cache_control"] = image.cache_control
    return out


def tool_id(ident: str) -> str:
    """`ident` if Anthropic accepts it as a tool_use id, else the same id with the
    characters it refuses replaced (deterministic, so a call and its result still match)."""
    if _VALID_ID.match(ident):
        return ident
    return _INVALID_ID_CHARS.sub("_", ident) or "toolu_unnamed"


def _strip_trailing_prefill(messages: list[dict[str, Any]]) -> None:
    """Anthropic rejects a final assistant turn (a prefill) that ends in whitespace."""
    if not messages or messages[-1]["role"] != "assistant":
        return
    last = messages[-1]["content"][-1]
    if last.get("type") == "text":
        stripped = last["text"].rstrip()
        if stripped:
            last["text"] = stripped
        else:
            messages[-1]["content"].pop()
            if not messages[-1]["content"]:
                messages.pop()


def without_unsigned_thinking(messages: object) -> list[Any] | None:
    """`messages` less the thinking blocks Anthropic refuses with a 400 ("Invalid
    signature in thinking block"): those with no signature, or an empty one, as other
    vendors' reasoning has (and redacted ones with no data). A turn left empty is left
    out, as Anthropic refuses empty content. None when there is nothing to drop, the
    usual case: then nothing is copied."""
    if not isinstance(messages, list) or not any(map(_has_unsigned_thinking, messages)):
        return None
    kept: list[Any] = []
    for message in messages:
        if not _has_unsigned_thinking(message):
            kept.append(message)
            continue
        content = [b for b in message["content"] if not _unsigned_thinking(b)]
        if content:
            kept.append({**message, "content": content})
    return kept


def _has_unsigned_thinking(message: object) -> bool:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return False
    content = message.get("content")
    return isinstance(content, list) and any(map(_unsigned_thinking, content))


def _unsigned_thinking(block: object) -> bool:
    if not isinstance(block, dict):
        return False
    kind = block.get("type")
    if kind == "thinking":
        proof = block.get("signature")
    elif kind == "redacted_thinking":
        proof = block.get("data")
    else:
        return False
    return not (isinstance(proof, str) and proof)
