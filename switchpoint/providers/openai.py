"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, llama.cpp, ...)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import orjson

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import (
    StreamEvent,
    answer_events,
)
from switchpoint.protocols.openai import PROTOCOL
from switchpoint.protocols.openai.errors import error_param, parse_error
from switchpoint.protocols.openai.request import encode_request
from switchpoint.protocols.openai.response import MalformedResponse, decode_response
from switchpoint.protocols.openai.stream import LogprobsStreamDecoder, StreamDecoder
from switchpoint.protocols.openai_responses import PROTOCOL as RESPONSES
from switchpoint.protocols.openai_responses.request import chat_settings
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.providers.errors import ProviderError, is_prefill_rejection, kind_for_status
from switchpoint.providers.http_adapter import HttpProviderAdapter, SSEStreamDecoder
from switchpoint.providers.limits import AttemptLimits
from switchpoint.providers.output_cap import OPENAI_CHAT_FIELDS, cap_fields
from switchpoint.providers.portability import refuse_excess_stops
from switchpoint.providers.request_body import request_bytes
from switchpoint.providers.sampling_refusals import body_without_refused

# Fields of an OpenAI client's body that the internal shape lacks: kept when the
# conversation was rewritten (e.g. compressed) but still goes to a server of OpenAI's
# protocol, so that the answer keeps the shape and sampling the client asked for.
_CARRIED_FIELDS = (
    "response_format",
    "n",
    "logprobs",
    "top_logprobs",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "reasoning_effort",
    "verbosity",
    "service_tier",
    "metadata",
    "store",
    "prediction",
    "modalities",
    "audio",
    "web_search_options",
)

# What an operator must do when a model served as `openai` exists only on OpenAI's
# Responses API (OpenAI answers a 404 saying so).
_RESPONSES_ONLY_HINT = "switchpoint: serve this model through a provider of type openai_responses"

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "too many tokens",
)
# A single string over its field's limit (a tool description past 1,024 characters,
# say): not the context, so summarizing would not help; another target may take it.
_FIELD_LIMIT_CODE = "string_above_max_length"
_POLICY_MARKERS = ("content_policy", "content_filter", "safety system")
# A setting (its name in `param`) that this model does not take.
_REFUSAL_CODES = frozenset({"unsupported_value", "unsupported_parameter"})


class OpenAIAdapter(HttpProviderAdapter):
    type = "openai"
    default_base_url = "https://api.openai.com/v1"
    # OpenAI itself wants `max_completion_tokens`; most compatible servers read `max_tokens`.
    legacy_max_tokens = False
    # OpenAI's limit; compatible servers set their own (None: not checked here).
    max_stop_sequences: int | None = 4

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _body(
        self, request: ChatRequest, model: str, stream: bool, limits: AttemptLimits | None = None
    ) -> bytes:
        limit = self.output_limit(model)
        if request.native and request.protocol == PROTOCOL:
            body: dict[str, Any] = dict(request.body)
            body["model"] = model
            if "max_tokens" in body and not self.legacy_max_tokens:
                # Deprecated, and refused by OpenAI's reasoning models (o-series, GPT-5):
                # a client written for another model may be routed to one of them.
                legacy = body.pop("max_tokens")
                body.setdefault("max_completion_tokens", legacy)
            if stream:
                # Usage is needed for accounting whether or not the client asked for it.
                options = body.get("stream_options")
                body["stream_options"] = {
                    **(options if isinstance(options, dict) else {}),
                    "include_usage": True,
                }
            if limit is not None and cap_fields(body, OPENAI_CHAT_FIELDS, limit):
                self.note_capped(limits, limit)
            if self.sampling_refusals.seen:
                self.note_dropped(limits, self.sampling_refusals.drop(model, body))
            return request_bytes(body)
        conversation = request.conversation()
        if self.max_stop_sequences is not None:
            refuse_excess_stops(conversation.stop, self.max_stop_sequences, "OpenAI")
        encoded = encode_request(
            conversation, model, stream=stream, legacy_max_tokens=self.legacy_max_tokens
        )
        if request.protocol == PROTOCOL:
            for key in _CARRIED_FIELDS:
                if key in request.body:
                    encoded[key] = request.body[key]
        elif request.protocol == RESPONSES:
            encoded.update(chat_settings(request.body))
        if limit is not None and cap_fields(encoded, OPENAI_CHAT_FIELDS, limit):
            self.note_capped(limits, limit)
        if self.sampling_refusals.seen:
            self.note_dropped(limits, self.sampling_refusals.drop(model, encoded))
        return request_bytes(encoded)

    @property
    def _path(self) -> str:
        return f"{self.base_path}/chat/completions"

    async def complete(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> ChatResponse:
        body = self._body(request, model, stream=False, limits=limits)
        # A non-streamed answer is generated before its headers are sent: the whole
        # attempt budget applies, not the first-token limit.
        try:
            response = await self.post(
                self._path, body, limits, header_timeout=limits.deadline - time.perf_counter()
            )
        except ProviderError as error:
            resend = partial(body_without_refused, self, request, model, False, limits)
            response = await self.post_again(error, self._path, resend, limits, first_token=False)
        return self._decode(await self.read_body(response, limits))

    # The API's answer body and event stream (OpenAI's Responses API has its own).
    decode_response = staticmethod(decode_response)
    stream_decoder: Callable[[], SSEStreamDecoder] = StreamDecoder

    def _decode(self, raw: bytes) -> ChatResponse:
        try:
            return self.decode_response(raw)
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
            self._stream_decoder_for(request),
            self._stream_error,
            # Servers of OpenAI's protocol other than OpenAI's own may not stream.
            whole_answer=self._answer_events,
            resend=partial(body_without_refused, self, request, model, True, limits),
        )

    def _stream_decoder_for(self, request: ChatRequest) -> SSEStreamDecoder:
        # Log-probabilities are kept only for an OpenAI chat client that asked for them
        # (forwarded as it sent them): other streams take the decoder that ignores them.
        if (
            self.stream_decoder is StreamDecoder
            and request.protocol == PROTOCOL
            and request.body.get("logprobs") is True
        ):
            return LogprobsStreamDecoder()
        return self.stream_decoder()

    def _answer_events(self, raw: bytes) -> list[StreamEvent]:
        return answer_events(self._decode(raw))

    def _stream_error(self, exc: Exception) -> ProviderError | None:
        if not isinstance(exc, StreamErrorEvent):
            return None
        message, kind, code = parse_error({"error": exc.error})
        error = self.classify_message(500, message or str(exc), kind, code)
        if error.kind in ("server_error", "bad_request"):
            error.kind = "stream_error"
        return error

    def classify_error(self, status: int, body: bytes, headers: dict[str, str]) -> ProviderError:
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        message, kind, code = parse_error(parsed)
        error = self.classify_message(status, message, kind, code)
        if status == 400 and code in _REFUSAL_CODES:
            error.refused_setting = error_param(parsed)
        return error

    def classify_message(
        self, status: int, message: str | None, vendor_type: str | None, code: str | None
    ) -> ProviderError:
        text = message or f"{self.name} returned HTTP {status}"
        lowered = f"{code or ''} {vendor_type or ''} {text}".lower()
        failure = kind_for_status(status)
        if status == 429 and ("insufficient_quota" in lowered or "quota" in (code or "")):
            failure = "quota"
        elif code == "model_not_found":
            # The Responses API says so with a 400, Chat Completions with a 404: either
            # way this target cannot serve the call, and the next one may.
            failure = "not_found"
        elif code == _FIELD_LIMIT_CODE or (status == 400 and code in _REFUSAL_CODES):
            # This model cannot take what was asked (a setting it refuses); another may.
            failure = "unsupported"
        elif status in (400, 413, 422) and any(m in lowered for m in _CONTEXT_MARKERS):
            failure = "context_length"
        elif status == 400 and any(m in lowered for m in _POLICY_MARKERS):
            failure = "content_policy"
        elif status in (400, 422) and is_prefill_rejection(text):
            failure = "prefill_rejected"
        if "only supported in v1/responses" in lowered:
            text += f" ({_RESPONSES_ONLY_HINT})"
        return ProviderError(
            failure, self.redact(text), status=status, vendor_type=code or vendor_type
        )


class OpenAICompatibleAdapter(OpenAIAdapter):
    type = "openai_compatible"
    legacy_max_tokens = True
    max_stop_sequences = None
