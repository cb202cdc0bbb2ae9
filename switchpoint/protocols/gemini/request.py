"""`Conversation` -> Gemini `GenerateContentRequest` bodies.

Gemini differs from the chat protocols in ways that need care: roles are `user` and
`model`; the system prompt is `systemInstruction`; a function result is matched to its
call by function *name* (ids are optional and absent in older versions), so the name of
each result is recovered from the call with the same id earlier in the conversation.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Protocol

from switchpoint.chat.content import Image, Message, Text, ToolCall, ToolResult, ToolSpec
from switchpoint.chat.request import Conversation
from switchpoint.errors import invalid_request
from switchpoint.protocols.gemini.function_names import gemini_name
from switchpoint.protocols.tool_arguments import arguments_object

# Google's documented stand-in for a thought signature the gateway does not have: Gemini 3
# requires one on the first function call of each replayed model turn, and calls made by
# another vendor (or whose signature the gateway no longer holds) have none.
SKIP_SIGNATURE = "skip_thought_signature_validator"

# The OpenAPI-subset `Schema` fields Gemini's `parameters` accepts.
_SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)


class SignatureLookup(Protocol):
    """Thought signatures by function-call id (a dict will do)."""

    def get(self, ident: str, /) -> str | None: ...


_MEDIA_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
}


def encode_request(
    conversation: Conversation,
    *,
    json_schema: bool = True,
    signatures: SignatureLookup | None = None,
    issued: Container[str] = (),
    signature_placeholder: bool = False,
) -> dict[str, Any]:
    """A Gemini request body (the model and streaming are in the URL, not here).

    `json_schema` declares tool parameters as `parametersJsonSchema` (full JSON Schema,
    v1beta and later) instead of the OpenAPI-subset `parameters`, and a JSON answer's
    schema as `responseJsonSchema` instead of `responseSchema`. `signatures` are the
    thought signatures Gemini gave with earlier function calls, by call id: each goes back
    on its call. `issued` are the call ids Gemini itself gave: each goes back on its call
    and on its result, as Gemini 3 asks (other ids, the gateway's or another vendor's,
    mean nothing to Gemini and are left out). `signature_placeholder` marks the first
    call of a model turn that has none with Google's skip-validation signature (Gemini 3
    and later need one).
    """
    names = _call_names(conversation.messages)
    order = {ident: position for position, ident in enumerate(names)}
    known: SignatureLookup = signatures if signatures is not None else {}
    contents = []
    for message in conversation.messages:
        parts = _parts(message, names, order, known, issued, signature_placeholder)
        if parts:
            contents.append(
                {"role": "model" if message.role == "assistant" else "user", "parts": parts}
            )
    body: dict[str, Any] = {"contents": contents}
    system = [{"text": t.text} for t in conversation.system if t.text]
    if system:
        body["systemInstruction"] = {"parts": system}
    if conversation.tools:
        body["tools"] = [
            {"functionDeclarations": [_declaration(t, json_schema) for t in conversation.tools]}
        ]
        choice = conversation.tool_choice
        if choice is not None:
            config: dict[str, Any] = {
                "mode": {"auto": "AUTO", "none": "NONE"}.get(choice.mode, "ANY")
            }
            if choice.mode == "tool" and choice.name:
                config["allowedFunctionNames"] = [gemini_name(choice.name)]
            body["toolConfig"] = {"functionCallingConfig": config}
    generation: dict[str, Any] = {}
    if conversation.max_tokens is not None:
        generation["maxOutputTokens"] = conversation.max_tokens
    if conversation.temperature is not None:
        generation["temperature"] = conversation.temperature
    if conversation.top_p is not None:
        generation["topP"] = conversation.top_p
    if conversation.stop:
        generation["stopSequences"] = conversation.stop
    output = conversation.json_output
    if output is not None:
        generation["responseMimeType"] = "application/json"
        if output.schema is not None:
            # `responseJsonSchema` takes JSON Schema as is (v1beta and later); v1 has only
            # the OpenAPI-subset `responseSchema`.
            generation["responseJsonSchema" if json_schema else "responseSchema"] = output.schema
    if generation:
        body["generationConfig"] = generation
    return body


def _call_names(messages: list[Message]) -> dict[str, str]:
    return {
        block.id: block.name
        for message in messages
        if message.role == "assistant"
        for block in message.content
        if isinstance(block, ToolCall)
    }


def _parts(
    message: Message,
    names: dict[str, str],
    order: dict[str, int],
    signatures: SignatureLookup,
    issued: Container[str],
    signature_placeholder: bool,
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    first_call: dict[str, Any] | None = None
    signed = False
    results = [b for b in message.content if isinstance(b, ToolResult)]
    if results:
        # Gemini pairs results with calls by name and position (ids are optional, and
        # absent on calls it did not make), not by what the client's ids say: two calls
        # of one function answered in another order than they were made would swap
        # their results. So the results go in their calls' order, first in the turn,
        # and what they returned besides text (images) after them.
        results.sort(key=lambda r: order.get(r.tool_call_id, len(order)))
        responses = [_function_response(r, names, issued) for r in results]
        parts.extend(response for response, _ in responses)
        parts.extend(media for _, extra in responses for media in extra)
    for block in message.content:
        if isinstance(block, Text):
            if block.text:
                parts.append({"text": block.text})
        elif isinstance(block, Image):
            parts.append(_image(block))
        elif isinstance(block, ToolCall):
            call: dict[str, Any] = {
                "name": gemini_name(block.name),
                "args": arguments_object(block.arguments),
            }
            if block.id in issued:
                call["id"] = block.id
            part: dict[str, Any] = {"functionCall": call}
            signature = signatures.get(block.id)
            if signature is not None:
                part["thoughtSignature"] = signature
                signed = True
            if first_call is None:
                first_call = part
            parts.append(part)
        # Tool results are placed above. Thinking: another turn's reasoning means
        # nothing to Gemini; it is dropped.
    if signature_placeholder and first_call is not None and not signed:
        first_call["thoughtSignature"] = SKIP_SIGNATURE
    return parts


def _function_response(
    result: ToolResult, names: dict[str, str], issued: Container[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The result's `functionResponse` part, and the parts of the images it returned."""
    name = result.name or names.get(result.tool_call_id)
    if name is None:
        raise invalid_request(
            f"tool result {result.tool_call_id!r} answers no tool call in this conversation",
            "messages",
        )
    texts = [part.text for part in result.content if isinstance(part, Text) and part.text]
    # A tool's several text blocks stay apart, as a list (joined, they would run into
    # each other). Google: "output" holds a function's output, "error" its error details.
    value: str | list[str] = texts if len(texts) > 1 else "".join(texts)
    response = {"error": value} if result.is_error else {"output": value}
    function_response: dict[str, Any] = {"name": gemini_name(name), "response": response}
    if result.tool_call_id in issued:
        function_response["id"] = result.tool_call_id
    images = [_image(part) for part in result.content if isinstance(part, Image)]
    return {"functionResponse": function_response}, images


def _image(image: Image) -> dict[str, Any]:
    if image.url is not None:
        return {
            "fileData": {
                "mimeType": image.media_type or _guess_media(image.url),
                "fileUri": image.url,
            }
        }
    return {"inlineData": {"mimeType": image.media_type or "image/png", "data": image.data or ""}}


def _guess_media(url: str) -> str:
    extension = url.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower()
    return _MEDIA_BY_EXTENSION.get(extension, "image/jpeg")


def _declaration(spec: ToolSpec, json_schema: bool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": gemini_name(spec.name)}
    if spec.description:
        declaration["description"] = spec.description
    if json_schema:
        declaration["parametersJsonSchema"] = spec.parameters
    elif spec.parameters.get("properties"):
        # The OpenAPI-subset Schema refuses an object without properties: leave it out.
        declaration["parameters"] = openapi_schema(spec.parameters)
    return declaration


def openapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema reduced to the OpenAPI subset Gemini's `parameters` accepts."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            if kinds:
                out["type"] = kinds[0]
            if "null" in value:
                out["nullable"] = True
        elif key == "const":
            out["enum"] = [value]
        elif key not in _SCHEMA_KEYS:
            continue
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {
                name: openapi_schema(sub) for name, sub in value.items() if isinstance(sub, dict)
            }
        elif key == "items" and isinstance(value, dict):
            out["items"] = openapi_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out["anyOf"] = [openapi_schema(sub) for sub in value if isinstance(sub, dict)]
        else:
            out[key] = value
    return out
