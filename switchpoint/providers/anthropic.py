"""Anthropic Messages (`POST {base_url}/v1/messages`).

`base_url` is the host without `/v1`, as in Anthropic's SDKs. Requests carry our key in
`x-api-key` and the API version in `anthropic-version` (`api_version`, default
2023-06-01). Anthropic requires `max_tokens`: a request translated from a protocol where
it is optional gets the model's `max_output_tokens` from the `models:` table, or
`DEFAULT_MAX_TOKENS`, never above the model's `output_limit_tokens`.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import StreamEvent
from switchpoint.protocols.anthropic import PROTOCOL
from switchpoint.protocols.anthropic.errors import parse_error
from switchpoint.protocols.anthropic.request import encode_request, without_unsigned_thinking
from switchpoint.protocols.anthropic.response import MalformedResponse, decode_response
from switchpoint.protocols.anthropic.stream import StreamDecoder
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.providers.errors import ProviderError, kind_for_status
from switchpoint.providers.http_adapter import HttpProviderAdapter
from switchpoint.providers.limits import AttemptLimits
from switchpoint.providers.output_cap import ANTHROPIC_FIELDS, cap_fields, cap_thinking_budget
from switchpoint.providers.portability import refuse_unportable
from switchpoint.providers.request_body import request_bytes
from switchpoint.providers.sampling_refusals import body_without_refused

DEFAULT_API_VERSION = "2023-06-01"

# `max_tokens` for a translated request that set none, when the model's
# `max_output_tokens` is not configured: every current Claude model allows this much.
DEFAULT_MAX_TOKENS = 4096

# Fields of an Anthropic client's body that translation does not carry (the internal
# shape lacks them, or the encoder leaves them out): kept when the conversation was
# rewritten (e.g. compressed) but still goes to Anthropic.
_CARRIED_FIELDS = (
    "thinking",
    "temperature",
    "top_p",
    "top_k",
    "service_tier",
    "cache_control",
    "output_config",
    "speed",
    "inference_geo",
)

_CONTEXT_MARKERS = (
    "prompt is too long",
    "exceed context limit",
    "context window",
    "context length",
    "too many tokens",
)
_POLICY_MARKERS = ("content filtering policy", "usage policy", "content policy")
# Claude Sonnet 4.5 and later refuse `temperature` and `top_p` together; Opus 4.7 and
# later refuse every sampling setting ("'temperature' is deprecated for this model.").
_EXCLUSIVE_SAMPLING = "`temperature` and `top_p` cannot both be specified"
_DEPRECATED_SETTING = re.compile(
    r"[`']?(temperature|top_p|top_k)[`']? is deprecated for this model"
)
_PREFILL_MARKERS = (
    "assistant message prefill",
    "does not support prefill",
    "must end with a user message",
)


class AnthropicAdapter(HttpProviderAdapter):
    type = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key} if self.api_key else {}

    def protocol_headers(self) -> dict[str, str]:
        return {"anthropic-version": self.config.api_version or DEFAULT_API_VERSION}

    @property
    def _path(self) -> str:
        return f"{self.base_path}/v1/messages"

    def max_tokens_for(self, model: str) -> int:
        """`max_tokens` for a request that set none (Anthropic requires one)."""
        config = self.model_config(model)
        if config is not None and config.max_output_tokens is not None:
            # Validated to be within `output_limit_tokens`.
            return config.max_output_tokens
        limit = self.output_limit(model)
        return DEFAULT_MAX_TOKENS if limit is None else min(DEFAULT_MAX_TOKENS, limit)

    @staticmethod
    def _client_headers(request: ChatRequest) -> dict[str, str] | None:
        """An Anthropic client's `anthropic-beta`, which its body may depend on."""
        return request.vendor_headers if request.protocol == PROTOCOL else None

    def _body(
        self, request: ChatRequest, model: str, stream: bool, limits: AttemptLimits | None = None
    ) -> bytes:
        limit = self.output_limit(model)
        if request.protocol == PROTOCOL and request.native:
            body = _native_body(request.body, model, stream)
            if limit is not None:
                self._cap(body, limit, limits)
            if self.sampling_refusals.seen:
                self.note_dropped(limits, self.sampling_refusals.drop(model, body))
            return request_bytes(body)
        if request.protocol != PROTOCOL:
            # Other protocols' JSON output is refused, though the encoder could write it
            # as `output_config.format`: Claude models before 4.5 lack structured outputs,
            # and other clients' schemas seldom meet its rules (`additionalProperties:
            # false` on every object), so the chain's next target serves it instead.
            refuse_unportable(request)
        encoded = encode_request(
            request.conversation(), model, stream=stream, max_tokens=self.max_tokens_for(model)
        )
        if request.protocol == PROTOCOL:
            _carry(encoded, request.body)
        if limit is not None:
            self._cap(encoded, limit, limits)
        if self.sampling_refusals.seen:
            self.note_dropped(limits, self.sampling_refusals.drop(model, encoded))
        return request_bytes(encoded)

    def _cap(self, body: dict[str, Any], limit: int, limits: AttemptLimits | None) -> None:
        if cap_fields(body, ANTHROPIC_FIELDS, limit):
            cap_thinking_budget(body, limit)
            self.note_capped(limits, limit)

    async def complete(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> ChatResponse:
        body = self._body(request, model, stream=False, limits=limits)
        # The whole answer is generated before its headers: the attempt budget applies.
        extra_headers = self._client_headers(request)
        try:
            response = await self.post(
                self._path,
                body,
                limits,
                header_timeout=limits.deadline - time.perf_counter(),
                extra_headers=extra_headers,
            )
        except ProviderError as error:
            resend = partial(body_without_refused, self, request, model, False, limits)
            response = await self.post_again(
                error, self._path, resend, limits, first_token=False, extra_headers=extra_headers
            )
        raw = await self.read_body(response, limits)
        try:
            return decode_response(raw)
        except MalformedResponse as exc:
            raise ProviderError("invalid_response", f"{self.name}: {exc}") from None

    def stream_batches(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[list[StreamEvent]]:
        body = self._body(request, model, stream=True, limits=limits)
        return self.relay_sse(
            self._path,
            body,
            limits,
            StreamDecoder(),
            self._stream_error,
            extra_headers=self._client_headers(request),
            resend=partial(body_without_refused, self, request, model, True, limits),
        )

    def _stream_error(self, exc: Exception) -> ProviderError | None:
        if not isinstance(exc, StreamErrorEvent):
            return None
        message, vendor_type = parse_error({"error": exc.error})
        status = 529 if vendor_type == "overloaded_error" else 500
        error = self.classify_message(status, message or str(exc), vendor_type)
        if error.kind in ("server_error", "bad_request"):
            error.kind = "stream_error"
        return error

    def classify_error(self, status: int, body: bytes, headers: dict[str, str]) -> ProviderError:
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        message, vendor_type = parse_error(parsed)
        error = self.classify_message(status, message, vendor_type)
        if status == 400 and message is not None:
            # Sent again without it (`sampling_refusals.py`), or another model of the
            # chain takes it. Of two that may not go together, `top_p` is left out: a
            # client that sets both mostly means its temperature.
            deprecated = _DEPRECATED_SETTING.search(message)
            if deprecated is not None:
                error.kind = "unsupported"
                error.refused_setting = deprecated.group(1)
            elif _EXCLUSIVE_SAMPLING in message:
                error.kind = "unsupported"
                error.refused_setting = "top_p"
                error.refused_alongside = "temperature"
        return error

    def classify_message(
        self, status: int, message: str | None, vendor_type: str | None
    ) -> ProviderError:
        text = message or f"{self.name} returned HTTP {status}"
        lowered = text.lower()
        failure = kind_for_status(status)
        if status == 529 or vendor_type == "overloaded_error":
            failure = "overloaded"
        elif status == 402 or vendor_type == "billing_error" or "credit balance" in lowered:
            failure = "quota"
        elif status in (400, 413) and any(m in lowered for m in _CONTEXT_MARKERS):
            failure = "context_length"
        elif status == 400 and any(m in lowered for m in _POLICY_MARKERS):
            failure = "content_policy"
        elif status == 400 and any(m in lowered for m in _PREFILL_MARKERS):
            failure = "prefill_rejected"
        return ProviderError(failure, self.redact(text), status=status, vendor_type=vendor_type)


def _native_body(client_body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """An Anthropic client's body as it came, for `model`: only thinking Anthropic would
    refuse (another vendor's, unsigned, replayed by the client) is taken out."""
    body = dict(client_body)
    body["model"] = model
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    messages = without_unsigned_thinking(body.get("messages"))
    if messages is not None:
        body["messages"] = messages
    return body


def _carry(encoded: dict[str, Any], client_body: dict[str, Any]) -> None:
    """Put back the fields of an Anthropic client's body that translation dropped."""
    translated = encoded.get("output_config")
    for key in _CARRIED_FIELDS:
        if key in client_body:
            encoded[key] = client_body[key]
    output = client_body.get("output_config")
    if translated is not None and isinstance(output, dict):
        # The beta's `output_format` became `output_config.format`: keep it beside the
        # client's other output settings (`effort`).
        encoded["output_config"] = {**output, **translated}
