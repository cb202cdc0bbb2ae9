"""The OpenAI Responses ingress (`POST /v1/responses`).

A request routed to a model served over this same API (a provider of type
`openai_responses`) is forwarded as sent; for any other it is decoded to the internal
shape and sent in that vendor's protocol, and the answer is rendered back as a Responses
object or event stream. Errors take OpenAI's shape, as the SDKs read them on both of
OpenAI's APIs.
"""

from __future__ import annotations

from typing import Any

from switchpoint.chat.request import Conversation
from switchpoint.chat.response import ChatResponse
from switchpoint.errors import GatewayError, invalid_request
from switchpoint.ingress.codec import ParsedBody, strip_flag
from switchpoint.protocols.fields import expect, optional, optional_number, optional_positive_int
from switchpoint.protocols.openai.errors import error_body
from switchpoint.protocols.openai_responses import PROTOCOL
from switchpoint.protocols.openai_responses.request import (
    KEEP_FLAG,
    check_unsupported,
    decode_request,
)
from switchpoint.protocols.openai_responses.response import encode_response, response_echo
from switchpoint.protocols.openai_responses.stream import StreamEncoder


class OpenAIResponsesCodec:
    protocol = PROTOCOL
    continues_prefill = False

    def decode(self, body: dict[str, Any]) -> Conversation:
        return decode_request(body)

    def prefill_text(self, body: dict[str, Any]) -> str:
        return ""  # a trailing assistant turn is an earlier answer here, not a prefill

    def parse(self, body: dict[str, Any]) -> ParsedBody:
        model = optional(body, "model", str)
        items = body.get("input")
        if items is None:
            raise invalid_request("'input' is required", "input")
        if not isinstance(items, str):
            expect(items, list, "input")
            if not items:
                raise invalid_request("'input' must contain at least one item", "input")
            for i, item in enumerate(items):
                if type(item) is not dict:
                    expect(item, dict, f"input[{i}]")
        check_unsupported(body)
        optional(body, "instructions", str)
        optional_number(body, "temperature", low=0, high=2)
        optional_number(body, "top_p", low=0, high=1)
        optional_positive_int(body, "max_output_tokens")
        for name in ("metadata", "reasoning", "text"):
            optional(body, name, dict)
        optional(body, "tools", list)
        optional(body, "truncation", str)
        optional(body, "parallel_tool_calls", bool)
        optional(body, "store", bool)
        stream = optional(body, "stream", bool)
        return ParsedBody(model=model, stream=bool(stream), echo=response_echo(body))

    def strip_extensions(self, body: dict[str, Any]) -> bool:
        return strip_flag(body.get("input"), KEEP_FLAG)

    def vendor_headers(self, headers: dict[bytes, bytes]) -> dict[str, str]:
        return {}

    def encode_response(self, response: ChatResponse, parsed: ParsedBody, request_id: str) -> bytes:
        return encode_response(response, request_id, parsed.echo or {})

    def stream_encoder(
        self, parsed: ParsedBody, request_id: str, *, input_tokens: int
    ) -> StreamEncoder:
        return StreamEncoder(request_id, parsed.echo or {})

    def show_output_limit(self, parsed: ParsedBody, limit: int) -> None:
        if parsed.echo is not None:
            parsed.echo["max_output_tokens"] = limit

    def error_body(self, error: GatewayError) -> dict[str, Any]:
        return error_body(error)
