"""Google Gemini API (`{base_url}/{api_version}/models/{model}:generateContent`).

`base_url` is the host, as in Google's SDK; `api_version` (default `v1beta`) is its own
key. Our key goes in `x-goog-api-key`. Streams use `:streamGenerateContent?alt=sse`.
Google reports a refused prompt as a 200 without candidates; it becomes a
`content_policy` failure like the other vendors' 400s.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

import orjson

from switchpoint.chat.content import ToolCall
from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import Finish, StreamEvent
from switchpoint.config.schema import ModelConfig, ProviderConfig
from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC
from switchpoint.protocols.gemini.errors import GoogleError, parse_error
from switchpoint.protocols.gemini.function_names import original_names
from switchpoint.protocols.gemini.request import encode_request
from switchpoint.protocols.gemini.response import (
    CallIds,
    FailedToolCall,
    MalformedResponse,
    PromptBlocked,
    decode_response,
)
from switchpoint.protocols.gemini.stream import StreamDecoder
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.providers.errors import ProviderError, kind_for_status
from switchpoint.providers.gemini_calls import build_gemini_calls
from switchpoint.providers.http_adapter import HttpProviderAdapter
from switchpoint.providers.limits import AttemptLimits
from switchpoint.providers.output_cap import cap_gemini
from switchpoint.providers.portability import refuse_excess_stops, refuse_unportable
from switchpoint.providers.request_body import request_bytes
from switchpoint.transport.http_client import HttpClient

DEFAULT_API_VERSION = "v1beta"

_CONTEXT_MARKERS = ("input token count", "exceeds the maximum number of tokens")
_PREFILL_MARKERS = ("end with a user role", "must end with a user")
_POLICY_MARKERS = ("safety", "blocked", "prohibited content")

# Gemini 3 and later want a thought signature on replayed function calls.
_MAJOR_VERSION = re.compile(r"gemini-(\d+)")


def _wants_signature(model: str) -> bool:
    """Gemini 3 and later refuse a replayed function call without a thought signature.
    Google's `-latest` aliases (`gemini-pro-latest`, `gemini-flash-latest`) name the
    newest generation, which is 3 or later, and carry no version to read."""
    match = _MAJOR_VERSION.search(model)
    if match is not None:
        return int(match.group(1)) >= 3
    return "gemini" in model and model.endswith("-latest")


def _grpc_status_code(error: object) -> int:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and 400 <= code <= 599 else 500


# OpenAI request fields of answer shape that the request encoder translates.
_HONOURED = frozenset({"response_format"})
# `generationConfig.stopSequences` takes at most this many.
_MAX_STOP_SEQUENCES = 5
# Sampling fields of a client's protocol that the internal shape lacks and Gemini's
# `generationConfig` has, by the client's protocol.
_SAMPLING = {
    OPENAI: (
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ),
    ANTHROPIC: (("top_k", "topK"),),
}


def _carry_sampling(encoded: dict[str, Any], request: ChatRequest) -> None:
    """Put the client's sampling fields that Gemini takes in its `generationConfig`
    (numbers only: a value of another type is not sent)."""
    body = request.body
    for field, gemini_field in _SAMPLING.get(request.protocol, ()):
        value = body.get(field)
        if type(value) is int or type(value) is float:
            encoded.setdefault("generationConfig", {})[gemini_field] = value


class GoogleAdapter(HttpProviderAdapter):
    type = "google"
    default_base_url = "https://generativelanguage.googleapis.com"

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        models: dict[str, ModelConfig],
        *,
        client: HttpClient,
        api_key: str | None,
    ) -> None:
        super().__init__(name, config, models, client=client, api_key=api_key)
        self.calls = build_gemini_calls(config.call_memory, name)

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key} if self.api_key else {}

    @property
    def api_version(self) -> str:
        return self.config.api_version or DEFAULT_API_VERSION

    def _path(self, model: str, stream: bool) -> str:
        name = quote(model.removeprefix("models/"), safe="-._~@")
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.base_path}/{self.api_version}/models/{name}:{method}"

    def _body(self, request: ChatRequest, model: str, limits: AttemptLimits | None = None) -> bytes:
        refuse_unportable(request, honoured=_HONOURED)
        conversation = request.conversation()
        refuse_excess_stops(conversation.stop, _MAX_STOP_SEQUENCES, "Gemini")
        encoded = encode_request(
            conversation,
            # `parametersJsonSchema` (whole JSON Schema) is not in the stable v1 surface.
            json_schema=self.api_version != "v1",
            signatures=self.calls,
            issued=self.calls,
            signature_placeholder=_wants_signature(model),
        )
        _carry_sampling(encoded, request)
        limit = self.output_limit(model)
        if limit is not None and cap_gemini(encoded, limit):
            self.note_capped(limits, limit)
        return request_bytes(encoded)

    async def _recall_calls(self, request: ChatRequest) -> None:
        """The replayed calls another worker or instance kept, when they are shared."""
        if self.calls.shared:
            await self.calls.recall(
                block.id
                for message in request.conversation().messages
                for block in message.content
                if type(block) is ToolCall
            )

    async def complete(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> ChatResponse:
        await self._recall_calls(request)
        body = self._body(request, model, limits)
        response = await self.post(
            self._path(model, stream=False),
            body,
            limits,
            header_timeout=limits.deadline - time.perf_counter(),
        )
        raw = await self.read_body(response, limits)
        ids = CallIds(names=original_names(request.conversation().tools))
        try:
            answer = decode_response(raw, model=model, ids=ids)
        except PromptBlocked as exc:
            raise self._blocked(exc) from None
        except MalformedResponse as exc:
            raise ProviderError("invalid_response", f"{self.name}: {exc}") from None
        await self.calls.keep(ids.signatures, ids.issued)
        return answer

    async def stream_batches(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[list[StreamEvent]]:
        await self._recall_calls(request)
        decoder = StreamDecoder(model, CallIds(names=original_names(request.conversation().tools)))
        relay = self.relay_sse(
            self._path(model, stream=True),
            self._body(request, model, limits),
            limits,
            decoder,
            self._stream_error,
        )
        kept = False
        try:
            async with aclosing(relay):
                async for batch in relay:
                    if (decoder.signatures or decoder.issued) and any(
                        type(event) is Finish for event in batch
                    ):
                        # Kept before the client has the whole answer, so before it can
                        # replay the calls (to whichever worker).
                        await self.calls.keep(decoder.signatures, decoder.issued)
                        kept = True
                    yield batch
        finally:
            if not kept:
                # A stream cut before its end: what it called is still remembered here.
                self.calls.remember(decoder.signatures, decoder.issued)

    async def aclose(self) -> None:
        await self.calls.aclose()

    def _blocked(self, exc: PromptBlocked) -> ProviderError:
        return ProviderError(
            "content_policy", f"{self.name}: {exc}", status=400, vendor_type=exc.reason
        )

    def _stream_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, PromptBlocked):
            return self._blocked(exc)
        if isinstance(exc, FailedToolCall):
            return ProviderError("invalid_response", f"{self.name}: {exc}")
        if not isinstance(exc, StreamErrorEvent):
            return None
        error = self.classify(_grpc_status_code(exc.error), parse_error({"error": exc.error}))
        if error.kind in ("server_error", "bad_request"):
            error.kind = "stream_error"
        return error

    def classify_error(self, status: int, body: bytes, headers: dict[str, str]) -> ProviderError:
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        return self.classify(status, parse_error(parsed))

    def classify(self, status: int, error: GoogleError) -> ProviderError:
        text = error.message or f"{self.name} returned HTTP {status}"
        lowered = text.lower()
        failure = kind_for_status(status)
        retry_after = None
        if "API_KEY_INVALID" in error.reasons() or "api key not valid" in lowered:
            # Google answers a wrong key with 400 INVALID_ARGUMENT: it is ours, not the client's.
            failure = "auth"
        elif status == 429 or error.status == "RESOURCE_EXHAUSTED":
            per_day = any("PerDay" in quota for quota in error.quota_ids())
            failure = "quota" if per_day else "rate_limited"
            retry_after = error.retry_delay_s()
        elif error.status == "FAILED_PRECONDITION":
            # Billing or region problems of our account: another provider may serve.
            failure = "unavailable"
        elif status == 400 and any(m in lowered for m in _CONTEXT_MARKERS):
            failure = "context_length"
        elif status == 400 and any(m in lowered for m in _PREFILL_MARKERS):
            failure = "prefill_rejected"
        elif status == 400 and any(m in lowered for m in _POLICY_MARKERS):
            failure = "content_policy"
        return ProviderError(
            failure,
            self.redact(text),
            status=status,
            retry_after_s=retry_after,
            vendor_type=error.status,
        )
