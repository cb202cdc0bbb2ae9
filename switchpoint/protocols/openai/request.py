"""OpenAI chat request bodies <-> `Conversation`."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_to_bytes

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
from switchpoint.chat.request import Conversation, append_turn
from switchpoint.errors import invalid_request
from switchpoint.protocols.fields import (
    expect,
    keep_mark,
    optional,
    optional_number,
    optional_positive_int,
    required,
)

KEEP_FLAG = "switchpoint_keep"


def answer_shape_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields of a request that ask for an answer of a shape other vendors' protocols
    may not give (several choices, token log-probabilities, JSON output), each with how
    to name it to the client. A vendor that cannot give one would answer without it, and
    the client would not be told."""
    found = {}
    n = body.get("n")
    if n is not None and n != 1:
        found["n"] = f"'n' = {n!r} (several choices)"
    if body.get("logprobs") or body.get("top_logprobs"):
        found["logprobs"] = "'logprobs' (token log-probabilities)"
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in (
        "json_object",
        "json_schema",
    ):
        found["response_format"] = f"'response_format' {response_format['type']} (JSON output)"
    return found


def decode_request(body: dict[str, Any]) -> Conversation:
    messages_in = required(body, "messages", list)
    if not messages_in:
        raise invalid_request("'messages' must contain at least one message", "messages")
    system: list[Text] = []
    messages: list[Message] = []
    for i, raw in enumerate(messages_in):
        param = f"messages[{i}]"
        expect(raw, dict, param)
        role = required(raw, "role", str, f"{param}.role")
        if role in ("system", "developer"):
            system.extend(Text(t) for t in _texts(raw.get("content"), f"{param}.content"))
        elif role == "user":
            content = _user_content(raw.get("content"), f"{param}.content")
            keep = keep_mark(raw, KEEP_FLAG, param)
            append_turn(messages, Message("user", content, keep=keep))
        elif role == "assistant":
            append_turn(messages, _assistant(raw, param))
        elif role in ("tool", "function"):
            result = _tool_result(raw, param, role)
            keep = keep_mark(raw, KEEP_FLAG, param)
            append_turn(messages, Message("user", [result], keep=keep))
        else:
            raise invalid_request(
                f"'{param}.role' must be one of system, developer, user, assistant, tool; "
                f"got {role!r}",
                f"{param}.role",
            )
    max_tokens = optional_positive_int(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = optional_positive_int(body, "max_tokens")
    stop = body.get("stop")
    if isinstance(stop, str):
        stops = [stop]
    elif stop is None:
        stops = []
    else:
        stops = [expect(s, str, "stop") for s in expect(stop, list, "stop")]
    return Conversation(
        messages=messages,
        system=system,
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        max_tokens=max_tokens,
        temperature=optional_number(body, "temperature", low=0, high=2),
        top_p=optional_number(body, "top_p", low=0, high=1),
        stop=stops,
        user=optional(body, "user", str),
        json_output=_json_output(body.get("response_format")),
    )


def _json_output(response_format: object) -> JsonOutput | None:
    if response_format is None:
        return None
    fields: dict[str, Any] = expect(response_format, dict, "response_format")
    kind = fields.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return JsonOutput()
    if kind != "json_schema":
        raise invalid_request(
            f"'response_format.type' must be text, json_object or json_schema; got {kind!r}",
            "response_format.type",
        )
    path = "response_format.json_schema"
    spec = required(fields, "json_schema", dict, path)
    return JsonOutput(
        schema=optional(spec, "schema", dict, f"{path}.schema"),
        name=optional(spec, "name", str, f"{path}.name"),
        strict=optional(spec, "strict", bool, f"{path}.strict"),
    )


def _texts(content: object, param: str) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    parts = expect(content, list, param)
    texts = []
    for j, part in enumerate(parts):
        expect(part, dict, f"{param}[{j}]")
        if part.get("type") == "text":
            texts.append(required(part, "text", str, f"{param}[{j}].text"))
    return texts


def _user_content(content: object, param: str) -> list[Block]:
    if isinstance(content, str):
        return [Text(content)]
    return list(_text_and_images(content, param, ""))


def _text_and_images(content: object, param: str, where: str) -> list[Text | Image]:
    """A content list of `text` and `image_url` parts; any other part is a 400 (`where`
    says which message it is not supported in)."""
    blocks: list[Text | Image] = []
    for j, part in enumerate(expect(content, list, param)):
        p = f"{param}[{j}]"
        expect(part, dict, p)
        kind = part.get("type")
        if kind == "text":
            blocks.append(Text(required(part, "text", str, f"{p}.text")))
        elif kind == "image_url":
            image = required(part, "image_url", dict, f"{p}.image_url")
            blocks.append(image_from_url(required(image, "url", str, f"{p}.image_url.url")))
        else:
            raise invalid_request(f"'{p}.type' {kind!r} is not supported{where}", f"{p}.type")
    return blocks


def image_from_url(url: str) -> Image:
    """An `image_url`: a data: URL inline, any other URL by reference."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type, *options = header[5:].split(";")
        if "base64" not in (option.strip().lower() for option in options):
            # A data: URL of percent-encoded bytes (`data:image/svg+xml;utf8,<svg ...`):
            # every vendor takes inline data as base64 only.
            data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
        return Image(media_type=media_type or None, data=data)
    return Image(url=url)


def url_of(image: Image) -> str:
    """The inverse of `image_from_url`: its URL, or its data inline as a data: URL."""
    return image.url or f"data:{image.media_type or 'image/png'};base64,{image.data}"


def _assistant(raw: dict[str, Any], param: str) -> Message:
    blocks: list[Block] = []
    reasoning = raw.get("reasoning_content") or raw.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        blocks.append(Thinking(reasoning))
    blocks.extend(Text(t) for t in _texts(raw.get("content"), f"{param}.content"))
    calls = raw.get("tool_calls")
    if calls is not None:
        for k, call in enumerate(expect(calls, list, f"{param}.tool_calls")):
            cp = f"{param}.tool_calls[{k}]"
            expect(call, dict, cp)
            function = required(call, "function", dict, f"{cp}.function")
            arguments = function.get("arguments")
            blocks.append(
                ToolCall(
                    id=required(call, "id", str, f"{cp}.id"),
                    name=required(function, "name", str, f"{cp}.function.name"),
                    arguments=arguments if isinstance(arguments, str) else "{}",
                )
            )
    return Message("assistant", blocks, keep=keep_mark(raw, KEEP_FLAG, param))


def _tool_result(raw: dict[str, Any], param: str, role: str) -> ToolResult:
    if role == "function":
        call_id = required(raw, "name", str, f"{param}.name")
    else:
        call_id = required(raw, "tool_call_id", str, f"{param}.tool_call_id")
    return ToolResult(
        tool_call_id=call_id,
        content=_result_content(raw.get("content"), f"{param}.content"),
        name=raw.get("name") if isinstance(raw.get("name"), str) else None,
    )


def _result_content(content: object, param: str) -> list[Text | Image]:
    """A tool message's content. OpenAI takes text parts only, but clients written for
    other models behind this protocol put a tool's images there too: those are kept for
    the vendors that take them, and any other part is refused, not dropped unsaid."""
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(content)]
    return _text_and_images(content, param, " in a tool message (text, image_url)")


def _tools(tools: object) -> list[ToolSpec]:
    if tools is None:
        return []
    specs = []
    for i, tool in enumerate(expect(tools, list, "tools")):
        expect(tool, dict, f"tools[{i}]")
        if tool.get("type", "function") != "function":
            raise invalid_request(
                f"'tools[{i}].type' {tool.get('type')!r} is not supported", f"tools[{i}].type"
            )
        function = required(tool, "function", dict, f"tools[{i}].function")
        parameters = function.get("parameters")
        specs.append(
            ToolSpec(
                name=required(function, "name", str, f"tools[{i}].function.name"),
                description=optional(
                    function, "description", str, f"tools[{i}].function.description"
                ),
                parameters=parameters if isinstance(parameters, dict) else {"type": "object"},
                strict=optional(function, "strict", bool, f"tools[{i}].function.strict"),
            )
        )
    return specs


def _tool_choice(choice: object, parallel: object) -> ToolChoice | None:
    parallel_flag = parallel if isinstance(parallel, bool) else None
    if choice is None:
        return ToolChoice("auto", parallel=parallel_flag) if parallel_flag is not None else None
    if choice == "auto" or choice == "none" or choice == "required":
        return ToolChoice(choice, parallel=parallel_flag)
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return ToolChoice("tool", name=function["name"], parallel=parallel_flag)
    raise invalid_request("'tool_choice' must be auto, none, required or a function", "tool_choice")


# --- encoding -------------------------------------------------------------------------


def encode_request(
    conversation: Conversation,
    model: str,
    *,
    stream: bool,
    legacy_max_tokens: bool = False,
) -> dict[str, Any]:
    """An OpenAI chat body. `legacy_max_tokens` uses `max_tokens` (what most
    OpenAI-compatible servers read) instead of OpenAI's current `max_completion_tokens`."""
    messages: list[dict[str, Any]] = []
    if conversation.system:
        messages.append({"role": "system", "content": conversation.system_text()})
    for message in conversation.messages:
        messages.extend(_encode_message(message))
    body: dict[str, Any] = {"model": model, "messages": messages}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if conversation.max_tokens is not None:
        body["max_tokens" if legacy_max_tokens else "max_completion_tokens"] = (
            conversation.max_tokens
        )
    if conversation.temperature is not None:
        body["temperature"] = conversation.temperature
    if conversation.top_p is not None:
        body["top_p"] = conversation.top_p
    if conversation.stop:
        body["stop"] = conversation.stop
    if conversation.user is not None:
        body["user"] = conversation.user
    if conversation.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": t.parameters,
                    **({"strict": t.strict} if t.strict is not None else {}),
                },
            }
            for t in conversation.tools
        ]
    if conversation.json_output is not None:
        body["response_format"] = _response_format(conversation.json_output)
    choice = conversation.tool_choice
    # Without tools there is nothing to choose, and the API refuses a choice alone.
    if choice is not None and conversation.tools:
        if choice.mode == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        else:
            body["tool_choice"] = choice.mode
        if choice.parallel is not None:
            body["parallel_tool_calls"] = choice.parallel
    return body


def _response_format(output: JsonOutput) -> dict[str, Any]:
    if output.schema is None:
        return {"type": "json_object"}
    spec: dict[str, Any] = {"name": output.name or "answer", "schema": output.schema}
    if output.strict is not None:
        spec["strict"] = output.strict
    return {"type": "json_schema", "json_schema": spec}


def _encode_message(message: Message) -> list[dict[str, Any]]:
    if message.role == "assistant":
        texts = [b.text for b in message.content if isinstance(b, Text) and b.text]
        out: dict[str, Any] = {"role": "assistant", "content": _text_content(texts)}
        calls = [
            {"id": b.id, "type": "function", "function": {"name": b.name, "arguments": b.arguments}}
            for b in message.content
            if isinstance(b, ToolCall)
        ]
        if calls:
            out["tool_calls"] = calls
        return [out]
    encoded: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, ToolResult):
            encoded.append(
                {
                    "role": "tool",
                    "tool_call_id": block.tool_call_id,
                    "content": _text_content(result_texts(block)),
                }
            )
            images = [b for b in block.content if isinstance(b, Image)]
            if images:
                # A tool message holds text only: the images it returned follow, in the
                # user turn after the results, said to be the call's.
                note = f"(the images returned by tool call {block.tool_call_id})"
                parts.append({"type": "text", "text": note})
                parts.extend(_image_part(image) for image in images)
        elif isinstance(block, Text):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, Image):
            parts.append(_image_part(block))
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        content: Any = _text_content([p["text"] for p in parts]) if only_text else parts
        encoded.append({"role": "user", "content": content})
    return encoded


def _image_part(image: Image) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url_of(image)}}


def _text_content(texts: list[str]) -> str | list[dict[str, str]] | None:
    """One text as a string; several as separate parts, as the client sent them (joined,
    they would run into each other); none as null."""
    if len(texts) > 1:
        return [{"type": "text", "text": text} for text in texts]
    return texts[0] if texts else None


def result_texts(result: ToolResult) -> list[str]:
    """A tool result's texts, one at least (a tool message's content is required), each
    kept apart (a tool's several text blocks, joined, would run into each other); an
    error said in the first, as OpenAI's APIs have no flag for it."""
    texts = [b.text for b in result.content if isinstance(b, Text) and b.text] or [""]
    if result.is_error and not texts[0].startswith("Error"):
        texts[0] = f"Error: {texts[0]}"
    return texts
