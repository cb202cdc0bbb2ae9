"""The OpenAI Chat Completions ingress (`POST /v1/chat/completions`)."""

from __future__ import annotations

from typing import Any

from switchpoint.chat.request import Conversation
from switchpoint.chat.response import ChatResponse
from switchpoint.errors import GatewayError, invalid_request
from switchpoint.ingress.codec import ParsedBody, strip_flag
from switchpoint.protocols.fields import expect, optional_number, optional_positive_int
from switchpoint.protocols.openai import PROTOCOL
from switchpoint.protocols.openai.errors import error_body
from switchpoint.protocols.openai.request import KEEP_FLAG, decode_request
from switchpoint.protocols.openai.response import encode_response
from switchpoint.protocols.openai.stream import LogprobsStreamEncoder, StreamEncoder

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class OpenAIChatCodec:
    protocol = PROTOCOL
    continues_prefill = False

    def decode(self, body: dict[str, Any]) -> Conversation:
        return decode_request(body)

    def prefill_text(self, body: dict[str, Any]) -> str:
        return ""  # a trailing assistant turn is an earlier answer here, not a prefill

    def parse(self, body: dict[str, Any]) -> ParsedBody:
        model = body.get("model")
        if model is not None:
            expect(model, str, "model")
        messages = body.get("messages")
        if messages is None:
            raise invalid_request("'messages' is required", "messages")
        expect(messages, list, "messages")
        if not messages:
            raise invalid_request("'messages' must contain at least one message", "messages")
        # The outline and the sampling fields are checked here even when the body is
        # forwarded as sent, so that a malformed request never reaches a vendor.
        for i, message in enumerate(messages):
            if type(message) is not dict:
                expect(message, dict, f"messages[{i}]")
            role = message.get("role")
            if type(role) is not str or role not in _ROLES:
                raise invalid_request(
                    f"'messages[{i}].role' must be one of {', '.join(sorted(_ROLES))}; "
                    f"got {role!r}",
                    f"messages[{i}].role",
                )
        optional_number(body, "temperature", low=0, high=2)
        optional_number(body, "top_p", low=0, high=1)
        optional_positive_int(body, "max_tokens")
        optional_positive_int(body, "max_completion_tokens")
        optional_positive_int(body, "n")
        stream = body.get("stream")
        if stream is not None:
            expect(stream, bool, "stream")
        if stream and body.get("n", 1) != 1:
            # A stream is relayed as one answer's events: the other choices would be lost.
            raise invalid_request("'n' other than 1 cannot be streamed; send it unstreamed", "n")
        include_usage = False
        options = body.get("stream_options")
        if options is not None:
            expect(options, dict, "stream_options")
            include_usage = options.get("include_usage") is True
        return ParsedBody(
            model=model,
            stream=bool(stream),
            include_usage=include_usage,
            logprobs=bool(stream) and body.get("logprobs") is True,
        )

    def strip_extensions(self, body: dict[str, Any]) -> bool:
        return strip_flag(body.get("messages"), KEEP_FLAG)

    def vendor_headers(self, headers: dict[bytes, bytes]) -> dict[str, str]:
        return {}

    def encode_response(self, response: ChatResponse, parsed: ParsedBody, request_id: str) -> bytes:
        return encode_response(response)

    def stream_encoder(
        self, parsed: ParsedBody, request_id: str, *, input_tokens: int
    ) -> StreamEncoder:
        encoder = LogprobsStreamEncoder if parsed.logprobs else StreamEncoder
        return encoder(include_usage=parsed.include_usage, fallback_id=f"chatcmpl-{request_id}")

    def show_output_limit(self, parsed: ParsedBody, limit: int) -> None:
        return None  # the answer does not repeat the request's maximum

    def error_body(self, error: GatewayError) -> dict[str, Any]:
        return error_body(error)
