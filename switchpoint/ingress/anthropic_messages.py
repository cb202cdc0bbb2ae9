"""The Anthropic Messages ingress (`POST /v1/messages`)."""

from __future__ import annotations

from typing import Any

from switchpoint.chat.request import Conversation
from switchpoint.chat.response import ChatResponse
from switchpoint.errors import GatewayError, invalid_request
from switchpoint.ingress.codec import ParsedBody, strip_flag
from switchpoint.protocols.anthropic import PROTOCOL
from switchpoint.protocols.anthropic.errors import error_body
from switchpoint.protocols.anthropic.request import (
    KEEP_FLAG,
    decode_request,
    prefill_text,
    required_max_tokens,
)
from switchpoint.protocols.anthropic.response import encode_response
from switchpoint.protocols.anthropic.stream import StreamEncoder
from switchpoint.protocols.fields import expect, optional, optional_number


def check_messages(body: dict[str, Any]) -> None:
    """The conversation's outline: a non-empty array of user/assistant turns whose
    content is text or an array of typed blocks. Blocks themselves are checked when the
    conversation is decoded (or by Anthropic, when it is forwarded as sent).

    This runs on every request over every block, so the checks are inlined; the
    messages naming the problem are built only on failure.
    """
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        if messages is None:
            raise invalid_request("'messages' is required", "messages")
        expect(messages, list, "messages")
        raise invalid_request("'messages' must contain at least one message", "messages")
    for i, message in enumerate(messages):
        if type(message) is not dict:
            expect(message, dict, f"messages[{i}]")
        role = message.get("role")
        if role != "user" and role != "assistant":
            _bad_role(i, role)
        content = message.get("content")
        if type(content) is str:
            continue
        if type(content) is not list:
            if content is None:
                raise invalid_request(
                    f"'messages[{i}].content' is required", f"messages[{i}].content"
                )
            expect(content, list, f"messages[{i}].content")
        for j, block in enumerate(content):
            if type(block) is not dict or type(block.get("type")) is not str:
                _bad_block(i, j, block)


def _bad_role(i: int, role: object) -> None:
    param = f"messages[{i}].role"
    if role is None:
        raise invalid_request(f"'{param}' is required", param)
    raise invalid_request(f"'{param}' must be 'user' or 'assistant', got {role!r}", param)


def _bad_block(i: int, j: int, block: object) -> None:
    param = f"messages[{i}].content[{j}]"
    expect(block, dict, param)
    raise invalid_request(f"'{param}.type' must be a string", f"{param}.type")


def check_common(body: dict[str, Any]) -> str | None:
    """Checks shared by messages and count_tokens; returns the `model`."""
    model = optional(body, "model", str)
    check_messages(body)
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        expect(system, list, "system")
    optional(body, "tools", list)
    optional(body, "tool_choice", dict)
    return model  # type: ignore[no-any-return]


class AnthropicMessagesCodec:
    protocol = PROTOCOL
    continues_prefill = True

    def decode(self, body: dict[str, Any]) -> Conversation:
        return decode_request(body)

    def prefill_text(self, body: dict[str, Any]) -> str:
        return prefill_text(body)

    def parse(self, body: dict[str, Any]) -> ParsedBody:
        model = check_common(body)
        required_max_tokens(body)
        stream = optional(body, "stream", bool)
        optional_number(body, "temperature", low=0, high=1)
        optional_number(body, "top_p", low=0, high=1)
        top_k = optional(body, "top_k", int)
        if top_k is not None and top_k < 0:
            raise invalid_request(f"'top_k' must not be negative, got {top_k}", "top_k")
        stops = optional(body, "stop_sequences", list)
        for k, stop in enumerate(stops or ()):
            expect(stop, str, f"stop_sequences[{k}]")
        optional(body, "metadata", dict)
        # Anthropic's stream always reports usage.
        return ParsedBody(model=model, stream=bool(stream), include_usage=True)

    def strip_extensions(self, body: dict[str, Any]) -> bool:
        return strip_flag(body.get("messages"), KEEP_FLAG)

    def vendor_headers(self, headers: dict[bytes, bytes]) -> dict[str, str]:
        """`anthropic-beta`: without it, Anthropic refuses the beta fields of the body."""
        beta = headers.get(b"anthropic-beta")
        if beta is None:
            return {}
        value = beta.decode("latin-1").strip()
        if not value.isprintable():
            raise invalid_request("the anthropic-beta header is malformed", "anthropic-beta")
        return {"anthropic-beta": value} if value else {}

    def encode_response(self, response: ChatResponse, parsed: ParsedBody, request_id: str) -> bytes:
        return encode_response(response, request_id)

    def stream_encoder(
        self, parsed: ParsedBody, request_id: str, *, input_tokens: int
    ) -> StreamEncoder:
        return StreamEncoder(fallback_id=f"msg_{request_id}", input_tokens=input_tokens)

    def show_output_limit(self, parsed: ParsedBody, limit: int) -> None:
        return None  # the answer does not repeat the request's maximum

    def error_body(self, error: GatewayError) -> dict[str, Any]:
        return error_body(error)
