"""OpenAI Responses request bodies -> `Conversation`.

`input` is a string or a list of items: messages (`{"role", "content"}`, with or without
`"type": "message"`), the model's own `function_call`s and the client's
`function_call_output`s. `instructions` is the system prompt. Function tools are flat
(`{"type": "function", "name", "parameters"}`), unlike Chat Completions' nested ones.

What needs state switchpoint does not keep (stored responses, conversations, prompts,
background runs) and what no vendor behind it can give back through this ingress
(hosted tools, log-probabilities) is refused with a 400 naming the field: answering
without it would be a different answer than the one asked for.
"""

from __future__ import annotations

from typing import Any

from switchpoint.chat.content import (
    Block,
    Image,
    JsonOutput,
    Message,
    Text,
    ToolCall,
    ToolChoice,
    ToolResult,
    ToolSpec,
)
from switchpoint.chat.request import Conversation, append_turn
from switchpoint.errors import GatewayError, invalid_request
from switchpoint.protocols.fields import (
    expect,
    keep_mark,
    optional,
    optional_number,
    optional_positive_int,
    required,
)
from switchpoint.protocols.openai.request import image_from_url, result_texts, url_of

KEEP_FLAG = "switchpoint_keep"

_STATEFUL_FIELDS = {
    "previous_response_id": (
        "switchpoint does not store responses: send the whole conversation in 'input' "
        "(as with store: false)"
    ),
    "conversation": (
        "switchpoint does not keep conversations: send the whole conversation in 'input'"
    ),
    "prompt": "switchpoint does not hold stored prompts: send 'instructions' and 'input' instead",
}

_LOGPROBS_INCLUDE = "message.output_text.logprobs"


def check_unsupported(body: dict[str, Any]) -> None:
    """Refuse the fields whose answer switchpoint cannot give (see the module's doc)."""
    for name, reason in _STATEFUL_FIELDS.items():
        if body.get(name) is not None:
            raise invalid_request(f"'{name}' is not supported: {reason}", name)
    if body.get("background") is True:
        raise invalid_request(
            "'background' responses are not supported: switchpoint answers while the "
            "request is open; send it without 'background'",
            "background",
        )
    if body.get("top_logprobs"):
        raise _no_logprobs("top_logprobs")
    include = body.get("include")
    if include is not None:
        for k, item in enumerate(expect(include, list, "include")):
            if item == _LOGPROBS_INCLUDE:
                raise _no_logprobs(f"include[{k}]")


def _no_logprobs(param: str) -> GatewayError:
    return invalid_request(
        f"'{param}': token log-probabilities are not supported on /v1/responses; "
        "ask for them on /v1/chat/completions, from a model served over OpenAI's protocol",
        param,
    )


def answer_shape_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields that ask for an answer of a shape a vendor's protocol may not give,
    keyed as OpenAI Chat's are (see `protocols.openai.request.answer_shape_fields`)."""
    text = body.get("text")
    if isinstance(text, dict):
        spec = text.get("format")
        if isinstance(spec, dict) and spec.get("type") in ("json_object", "json_schema"):
            return {"response_format": f"'text.format' {spec['type']} (JSON output)"}
    return {}


def decode_request(body: dict[str, Any]) -> Conversation:
    """The conversation of a body the codec's `parse` (which refuses the unsupported
    fields, `check_unsupported`) has accepted."""
    system: list[Text] = []
    instructions = optional(body, "instructions", str)
    if instructions:
        system.append(Text(instructions))
    messages: list[Message] = []
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        messages.append(Message("user", [Text(raw_input)]))
    else:
        for i, item in enumerate(required(body, "input", list)):
            _decode_item(item, f"input[{i}]", system, messages)
    if not messages:
        raise invalid_request(
            "'input' must contain a message other than system and developer ones", "input"
        )
    return Conversation(
        messages=messages,
        system=system,
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        max_tokens=optional_positive_int(body, "max_output_tokens"),
        temperature=optional_number(body, "temperature", low=0, high=2),
        top_p=optional_number(body, "top_p", low=0, high=1),
        user=optional(body, "user", str),
        json_output=_json_output(body.get("text")),
    )


def _decode_item(item: Any, param: str, system: list[Text], messages: list[Message]) -> None:
    item = expect(item, dict, param)
    kind = item.get("type", "message")
    keep = keep_mark(item, KEEP_FLAG, param)
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            system.extend(Text(t) for t in _texts(item.get("content"), f"{param}.content"))
        elif role == "user":
            content = _user_content(item.get("content"), f"{param}.content")
            append_turn(messages, Message("user", content, keep=keep))
        elif role == "assistant":
            texts = [t for t in _texts(item.get("content"), f"{param}.content") if t]
            if texts:  # an empty assistant turn is refused by Anthropic and Gemini
                append_turn(messages, Message("assistant", [Text(t) for t in texts], keep=keep))
        else:
            raise invalid_request(
                f"'{param}.role' must be one of user, assistant, system, developer; got {role!r}",
                f"{param}.role",
            )
    elif kind == "function_call":
        arguments = item.get("arguments")
        call = ToolCall(
            id=required(item, "call_id", str, f"{param}.call_id"),
            name=required(item, "name", str, f"{param}.name"),
            arguments=expect(arguments, str, f"{param}.arguments") if arguments else "{}",
        )
        append_turn(messages, Message("assistant", [call], keep=keep))
    elif kind == "function_call_output":
        result = ToolResult(
            tool_call_id=required(item, "call_id", str, f"{param}.call_id"),
            content=_output_content(item.get("output"), f"{param}.output"),
        )
        append_turn(messages, Message("user", [result], keep=keep))
    elif kind == "reasoning":
        # The model's own reasoning, replayed: only OpenAI's Responses API reads it back
        # (encrypted). A body forwarded as sent to a model served over that API keeps
        # it; translated for any other, it is left out, as Chat Completions leaves it.
        return
    elif kind == "item_reference":
        raise invalid_request(
            f"'{param}': item references are not supported: switchpoint does not store "
            "items; send the item itself",
            f"{param}.type",
        )
    else:
        raise invalid_request(
            f"'{param}.type' {kind!r} is not supported: switchpoint translates messages, "
            "function calls and function call outputs",
            f"{param}.type",
        )


def _texts(content: object, param: str) -> list[str]:
    """The text of a message's content: a string, or parts of which the text ones count
    (`input_text`, and the assistant's `output_text`; a `refusal` is its text too)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    texts = []
    for j, part in enumerate(expect(content, list, param)):
        expect(part, dict, f"{param}[{j}]")
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            texts.append(required(part, "text", str, f"{param}[{j}].text"))
        elif kind == "refusal":
            texts.append(required(part, "refusal", str, f"{param}[{j}].refusal"))
        else:
            raise invalid_request(
                f"'{param}[{j}].type' {kind!r} is not supported here", f"{param}[{j}].type"
            )
    return texts


def _user_content(content: object, param: str) -> list[Block]:
    if isinstance(content, str):
        return [Text(content)]
    blocks: list[Block] = []
    for j, part in enumerate(expect(content, list, param)):
        blocks.append(_input_part(part, f"{param}[{j}]"))
    return blocks


def _output_content(output: object, param: str) -> list[Text | Image]:
    if isinstance(output, str):
        return [Text(output)]
    if output is None:
        raise invalid_request(f"'{param}' is required", param)
    parts = expect(output, list, param)
    return [_input_part(part, f"{param}[{j}]") for j, part in enumerate(parts)]


def _input_part(raw: object, param: str) -> Text | Image:
    part: dict[str, Any] = expect(raw, dict, param)
    kind = part.get("type")
    if kind == "input_text":
        return Text(required(part, "text", str, f"{param}.text"))
    if kind == "input_image":
        if part.get("file_id") is not None:
            raise invalid_request(
                f"'{param}.file_id': uploaded files are not supported; send the image "
                "as 'image_url' (an https or data: URL)",
                f"{param}.file_id",
            )
        return image_from_url(required(part, "image_url", str, f"{param}.image_url"))
    raise invalid_request(
        f"'{param}.type' {kind!r} is not supported: switchpoint translates input_text and "
        "input_image",
        f"{param}.type",
    )


def _tools(tools: object) -> list[ToolSpec]:
    if tools is None:
        return []
    specs = []
    for i, tool in enumerate(expect(tools, list, "tools")):
        param = f"tools[{i}]"
        expect(tool, dict, param)
        kind = tool.get("type")
        if kind != "function":
            raise invalid_request(
                f"'{param}.type' {kind!r} is not supported: switchpoint routes to several "
                "vendors and translates function tools only",
                f"{param}.type",
            )
        parameters = tool.get("parameters")
        specs.append(
            ToolSpec(
                name=required(tool, "name", str, f"{param}.name"),
                description=optional(tool, "description", str, f"{param}.description"),
                parameters=parameters if isinstance(parameters, dict) else {"type": "object"},
                strict=optional(tool, "strict", bool, f"{param}.strict"),
            )
        )
    return specs


def _tool_choice(choice: object, parallel: object) -> ToolChoice | None:
    parallel_flag = expect(parallel, bool, "parallel_tool_calls") if parallel is not None else None
    if choice is None:
        return ToolChoice("auto", parallel=parallel_flag) if parallel_flag is not None else None
    if choice == "auto" or choice == "none" or choice == "required":
        return ToolChoice(choice, parallel=parallel_flag)
    if isinstance(choice, dict) and choice.get("type") == "function":
        return ToolChoice(
            "tool",
            name=required(choice, "name", str, "tool_choice.name"),
            parallel=parallel_flag,
        )
    raise invalid_request(
        '\'tool_choice\' must be auto, none, required or {"type": "function", "name"}',
        "tool_choice",
    )


def _json_output(text: object) -> JsonOutput | None:
    if text is None:
        return None
    spec = expect(text, dict, "text").get("format")
    if spec is None:
        return None
    expect(spec, dict, "text.format")
    kind = spec.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return JsonOutput()
    if kind == "json_schema":
        return JsonOutput(
            schema=required(spec, "schema", dict, "text.format.schema"),
            name=required(spec, "name", str, "text.format.name"),
            strict=optional(spec, "strict", bool, "text.format.strict"),
        )
    raise invalid_request(
        f"'text.format.type' must be text, json_object or json_schema; got {kind!r}",
        "text.format.type",
    )


# --- encoding: a conversation for a model served over the Responses API ---------------


def encode_request(conversation: Conversation, model: str, *, stream: bool) -> dict[str, Any]:
    """A Responses body. `store` is false: switchpoint keeps no state between calls and
    sends each one whole, so nothing needs keeping at the vendor either."""
    body: dict[str, Any] = {
        "model": model,
        "input": [item for message in conversation.messages for item in _encode_items(message)],
        "store": False,
    }
    if conversation.system:
        body["instructions"] = conversation.system_text()
    if stream:
        body["stream"] = True
    if conversation.max_tokens is not None:
        body["max_output_tokens"] = conversation.max_tokens
    if conversation.temperature is not None:
        body["temperature"] = conversation.temperature
    if conversation.top_p is not None:
        body["top_p"] = conversation.top_p
    if conversation.user is not None:
        body["user"] = conversation.user
    if conversation.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "parameters": t.parameters,
                # The Responses API assumes strict when it is not said, Chat Completions
                # (and every other vendor) not: only a client's own `strict: true` asks.
                "strict": bool(t.strict),
            }
            for t in conversation.tools
        ]
    choice = conversation.tool_choice
    # Without tools there is nothing to choose (and "required" could not be met).
    if choice is not None and conversation.tools:
        if choice.mode == "tool":
            body["tool_choice"] = {"type": "function", "name": choice.name}
        else:
            body["tool_choice"] = choice.mode
        if choice.parallel is not None:
            body["parallel_tool_calls"] = choice.parallel
    output = conversation.json_output
    if output is not None:
        if output.schema is None:
            body["text"] = {"format": {"type": "json_object"}}
        else:
            spec: dict[str, Any] = {
                "type": "json_schema",
                "name": output.name or "answer",
                "schema": output.schema,
            }
            if output.strict is not None:
                spec["strict"] = output.strict
            body["text"] = {"format": spec}
    return body


def _encode_items(message: Message) -> list[dict[str, Any]]:
    """A turn as items, in its blocks' order: text and images as one message per run,
    each tool call and each tool result an item of its own (reasoning is left out)."""
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    assistant = message.role == "assistant"

    def end_parts() -> None:
        if parts:
            if assistant:
                text = "".join(p["text"] for p in parts)
                items.append({"role": "assistant", "content": text})
            else:
                items.append({"role": "user", "content": list(parts)})
            parts.clear()

    for block in message.content:
        if isinstance(block, Text):
            parts.append({"type": "output_text" if assistant else "input_text", "text": block.text})
        elif isinstance(block, Image) and not assistant:
            parts.append(_image_part(block))
        elif isinstance(block, ToolCall):
            end_parts()
            items.append(
                {
                    "type": "function_call",
                    "call_id": block.id,
                    "name": block.name,
                    "arguments": block.arguments,
                }
            )
        elif isinstance(block, ToolResult):
            end_parts()
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": block.tool_call_id,
                    "output": _output(block),
                }
            )
    end_parts()
    return items


def _image_part(image: Image) -> dict[str, Any]:
    return {"type": "input_image", "image_url": url_of(image), "detail": "auto"}


def _output(result: ToolResult) -> str | list[dict[str, Any]]:
    """A tool's result: its text, or parts when it holds an image or several texts."""
    if any(isinstance(b, Image) for b in result.content):
        return [
            _image_part(b) if isinstance(b, Image) else {"type": "input_text", "text": b.text}
            for b in result.content
        ]
    texts = result_texts(result)
    if len(texts) == 1:
        return texts[0]
    return [{"type": "input_text", "text": text} for text in texts]


# --- OpenAI's settings under the other API's names --------------------------------------
# Reasoning effort and verbosity mean the same on both of OpenAI's APIs, under other
# names; they carry over when a client of one is served over the other.


def chat_settings(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses body's `reasoning.effort` and `text.verbosity` as Chat Completions
    fields (`reasoning_effort`, `verbosity`)."""
    settings: dict[str, Any] = {}
    reasoning, text = body.get("reasoning"), body.get("text")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if isinstance(effort, str):
        settings["reasoning_effort"] = effort
    verbosity = text.get("verbosity") if isinstance(text, dict) else None
    if isinstance(verbosity, str):
        settings["verbosity"] = verbosity
    return settings


def add_chat_settings(encoded: dict[str, Any], chat_body: dict[str, Any]) -> None:
    """A Chat Completions body's `reasoning_effort` and `verbosity`, set on a Responses
    body as `reasoning.effort` and `text.verbosity`."""
    effort = chat_body.get("reasoning_effort")
    if isinstance(effort, str):
        encoded["reasoning"] = {"effort": effort}
    verbosity = chat_body.get("verbosity")
    if isinstance(verbosity, str):
        encoded.setdefault("text", {})["verbosity"] = verbosity
