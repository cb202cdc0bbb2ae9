"""Fake Google Gemini API upstream (Generative Language API, API-key auth).

Endpoints ``POST /{version}/models/{model}:generateContent``,
``:streamGenerateContent`` (``?alt=sse`` for SSE; without it, a streamed JSON
array, as Google sends) and ``:countTokens``. Wire details kept on purpose:

* key in ``x-goog-api-key`` or ``?key=``; a missing key is 403
  ``PERMISSION_DENIED`` and a wrong one 400 ``INVALID_ARGUMENT`` with an
  ``API_KEY_INVALID`` detail (Google never answers 401 here);
* proto3 JSON: zero token counts are omitted, not sent as 0; request fields are
  accepted in camelCase and in snake_case;
* SSE events end in CRLF CRLF and there is no terminating sentinel;
* ``usageMetadata`` is cumulative on every chunk, the finish reason comes last,
  a function call arrives whole in one chunk with ``finishReason: STOP``;
* safety blocks are 200 answers (``promptFeedback.blockReason`` or
  ``finishReason: SAFETY``), not error statuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes import wire
from tests.fakes.faults import (
    BadGateway,
    ContentPolicy,
    ContextLengthExceeded,
    HttpFault,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    ServerError,
    ServiceUnavailable,
)
from tests.fakes.harness import FakeUpstream, Rejection, json_reply
from tests.fakes.recording import RecordedRequest
from tests.fakes.reply import ReplyPlan, RequestSummary, Usage, compact_json, count_tokens

API_VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})

GOOGLE_502 = (
    b"<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    b"  <title>Error 502 (Server Error)!!1</title>\n"
    b"  <p><b>502.</b> <ins>That\xe2\x80\x99s an error.</ins>\n"
    b"  <p>The server encountered a temporary error and could not complete your request."
    b"<p>Please try again in 30 seconds.  <ins>That\xe2\x80\x99s all we know.</ins>\n"
)

_FINISH = {"end": "STOP", "tool": "STOP", "length": "MAX_TOKENS", "refusal": "SAFETY"}

_SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
]


@dataclass(frozen=True)
class GeminiSummary(RequestSummary):
    api_version: str = "v1beta"
    sse: bool = False
    """Streamed as SSE (``alt=sse``) rather than as a JSON array."""


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> wire.HttpReply:
    """An error in Google's ``google.rpc.Status`` JSON shape."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return wire.HttpReply(
        code, json.dumps({"error": error}, indent=2).encode(), "application/json; charset=UTF-8"
    )


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """Google's JSON parser takes both spellings of a proto field."""
    return obj.get(camel, obj.get(snake))


def _parts_text(parts: Any) -> str:
    texts: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if "text" in part:
            texts.append(str(part["text"]))
        call = _field(part, "functionCall", "function_call")
        if isinstance(call, dict):
            texts.append(compact_json(call.get("args", {})))
        result = _field(part, "functionResponse", "function_response")
        if isinstance(result, dict):
            texts.append(compact_json(result.get("response", {})))
    return " ".join(t for t in texts if t)


def _nonzero(**counts: int) -> dict[str, int]:
    # proto3 JSON leaves out fields at their default value.
    return {name: value for name, value in counts.items() if value}


def usage_metadata(usage: Usage, output_so_far: int | None = None) -> dict[str, Any]:
    output = usage.output_tokens if output_so_far is None else output_so_far
    meta: dict[str, Any] = _nonzero(
        promptTokenCount=usage.prompt_tokens,
        candidatesTokenCount=output,
        totalTokenCount=usage.prompt_tokens + output + usage.reasoning_tokens,
        cachedContentTokenCount=usage.cached_tokens,
        thoughtsTokenCount=usage.reasoning_tokens,
    )
    if usage.prompt_tokens:
        meta["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage.prompt_tokens}]
    if usage.cached_tokens:
        meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage.cached_tokens}]
    return meta


class GeminiFake(FakeUpstream):
    """Fake of the Gemini API. ``base_url`` is the host, as the SDK expects."""

    default_api_key = "gemini-fake-key"

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__(api_key=api_key)
        self.sse_line_ending: str = "\r\n"
        """Google ends SSE lines with CRLF; set ``"\\n"`` to compare."""
        self.issue_call_ids: bool = False
        """Give each function call an ``id``, as Gemini 3 does (earlier models gave none)."""

    @property
    def base_url(self) -> str:
        return self.origin

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/models/{target}", self._model_method)

    def _base_headers(self) -> dict[str, str]:
        return {"server": "scaffolding on HTTPServer2", "x-xss-protection": "0"}

    def _tool_call_id(self) -> str:
        return f"fc_fake{self.next_id():08d}"

    def _response_id(self) -> str:
        return f"fakeResp{self.next_id():08d}"

    # ------------------------------------------------------------ requests

    async def _model_method(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        version = request.match_info["version"]
        model, _, method = request.match_info["target"].rpartition(":")
        if version not in API_VERSIONS or not model:
            record.behaviour = "not_found"
            return await self._send(request, record, self._not_found_reply(request), None)
        if method in ("generateContent", "streamGenerateContent"):

            def summarize(rec: RecordedRequest) -> RequestSummary:
                return self._summarize(rec, version, model, method == "streamGenerateContent")

            return await self._serve_model_request(request, record, summarize)
        if method == "countTokens":
            return await self._count_tokens(request, record, version, model)
        record.behaviour = "not_found"
        return await self._send(request, record, self._not_found_reply(request), None)

    async def _count_tokens(
        self, request: web.Request, record: RecordedRequest, version: str, model: str
    ) -> web.StreamResponse:
        try:
            summary = self._summarize(record, version, model, stream=False)
        except Rejection as rejection:
            record.behaviour = rejection.behaviour
            return await self._send(request, record, rejection.reply, None)
        record.model = model
        tokens = (
            self.input_tokens
            if self.input_tokens is not None
            else count_tokens(summary.prompt_text)
        )
        body = {
            "totalTokens": tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
        }
        return await self._send(request, record, json_reply(200, body), None)

    def _authenticate(self, record: RecordedRequest) -> None:
        header = record.headers.get("x-goog-api-key")
        key = header if header is not None else record.query.get("key")
        record.auth_header = key
        record.credential = key
        if not key:
            raise Rejection(
                google_error(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established "
                    "identity). Please use API Key or other form of API consumer identity to "
                    "call this API.",
                ),
                "auth",
            )
        if key != self.api_key:
            message = "API key not valid. Please pass a valid API key."
            details: list[dict[str, Any]] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": message,
                },
            ]
            raise Rejection(google_error(400, "INVALID_ARGUMENT", message, details), "auth")

    def _summarize(
        self, record: RecordedRequest, version: str, model: str, stream: bool
    ) -> GeminiSummary:
        self._authenticate(record)
        body = record.body
        if not isinstance(body, dict):
            raise Rejection(
                google_error(
                    400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token."
                ),
                "invalid",
            )
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise Rejection(
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "* GenerateContentRequest.contents: contents is not specified\n",
                ),
                "invalid",
            )
        system = _field(body, "systemInstruction", "system_instruction")
        texts = [_parts_text(system.get("parts")) if isinstance(system, dict) else ""]
        texts.extend(_parts_text(c.get("parts")) for c in contents if isinstance(c, dict))
        last = contents[-1] if isinstance(contents[-1], dict) else {}
        raw_parts = last.get("parts")
        last_parts: list[Any] = raw_parts if isinstance(raw_parts, list) else []
        trailing = _parts_text(last_parts) if last.get("role") == "model" else None
        last_is_tool_result = any(
            isinstance(p, dict) and _field(p, "functionResponse", "function_response") is not None
            for p in last_parts
        )
        names: set[str] = set()
        for tool in body.get("tools") or []:
            if isinstance(tool, dict):
                for decl in _field(tool, "functionDeclarations", "function_declarations") or []:
                    if isinstance(decl, dict):
                        names.add(str(decl.get("name")))
        config = _field(body, "generationConfig", "generation_config")
        limit = (
            _field(config, "maxOutputTokens", "max_output_tokens")
            if isinstance(config, dict)
            else None
        )
        return GeminiSummary(
            model=model,
            stream=stream,
            prompt_text="\n".join(t for t in texts if t),
            tool_names=frozenset(names),
            trailing_assistant=trailing,
            last_is_tool_result=last_is_tool_result,
            max_output_tokens=limit if isinstance(limit, int) else None,
            api_version=version,
            sse=record.query.get("alt") == "sse",
        )

    # ------------------------------------------------------------ rendering

    def _unknown_model_reply(self, summary: RequestSummary) -> wire.HttpReply:
        version = summary.api_version if isinstance(summary, GeminiSummary) else "v1beta"
        method = "streamGenerateContent" if summary.stream else "generateContent"
        return google_error(
            404,
            "NOT_FOUND",
            f"models/{summary.model} is not found for API version {version}, or is not "
            f"supported for {method}. Call ListModels to see the list of available models "
            "and their supported methods.",
        )

    def _not_found_reply(self, request: web.Request) -> wire.HttpReply:
        return google_error(404, "NOT_FOUND", f"Method not found: {request.path}")

    def _invalid_request_reply(self, message: str) -> wire.HttpReply:
        return google_error(400, "INVALID_ARGUMENT", message)

    def _prefill_rejection(self, summary: RequestSummary) -> wire.HttpReply:
        # Gemini itself continues a trailing model turn; this stand-in in its
        # shape lets a gateway's prefill learning be tested against Gemini too.
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "Please ensure that multiturn requests end with a user role or a function response.",
        )

    def _error_reply(self, fault: HttpFault, summary: RequestSummary) -> wire.HttpReply:
        if isinstance(fault, RateLimited | QuotaExhausted):
            per_day = isinstance(fault, QuotaExhausted)
            quota = (
                "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
                if per_day
                else ("GenerateRequestsPerMinutePerProjectPerModel")
            )
            details: list[dict[str, Any]] = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_content_requests",
                            "quotaId": quota,
                            "quotaDimensions": {"location": "global", "model": summary.model},
                            "quotaValue": "250" if per_day else "10",
                        }
                    ],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
            ]
            if isinstance(fault, RateLimited) and fault.retry_after is not None:
                details.append(
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": _duration(fault.retry_after),
                    }
                )
            return google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, head to: "
                "https://ai.google.dev/gemini-api/docs/rate-limits.",
                details,
            )
        if isinstance(fault, BadGateway):
            return wire.HttpReply(502, GOOGLE_502, "text/html; charset=UTF-8")
        if isinstance(fault, Overloaded):
            return google_error(
                503, "UNAVAILABLE", "The model is overloaded. Please try again later."
            )
        if isinstance(fault, ServiceUnavailable):
            return google_error(503, "UNAVAILABLE", "The service is currently unavailable.")
        if isinstance(fault, ContextLengthExceeded):
            tokens, limit = self._context_numbers(fault, summary)
            return google_error(
                400,
                "INVALID_ARGUMENT",
                f"The input token count ({tokens}) exceeds the maximum number of tokens "
                f"allowed ({limit}).",
            )
        if isinstance(fault, ContentPolicy):
            return self._blocked_prompt(summary)
        assert isinstance(fault, ServerError), fault
        return google_error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        )

    def _blocked_prompt(self, summary: RequestSummary) -> wire.HttpReply:
        """A prompt the safety filter blocks: a 200 with no candidates."""
        prompt = (
            self.input_tokens
            if self.input_tokens is not None
            else count_tokens(summary.prompt_text)
        )
        payload = {
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": _SAFETY_RATINGS},
            "usageMetadata": _nonzero(promptTokenCount=prompt, totalTokenCount=prompt),
            "modelVersion": self.resolved_models.get(summary.model, summary.model),
            "responseId": self._response_id(),
        }
        if not summary.stream:
            return json_reply(200, payload)
        frames = self._frame_bytes([payload], summary)
        return wire.HttpReply(200, b"".join(frames), self._stream_content_type(summary))

    def _candidate(self, plan: ReplyPlan, parts: list[dict[str, Any]]) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if plan.stop == "refusal":
            # A refused answer has no content at all, only the reason and ratings.
            return {"finishReason": "SAFETY", "index": 0, "safetyRatings": _SAFETY_RATINGS}
        return candidate

    def _parts(self, plan: ReplyPlan) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if plan.text:
            parts.append({"text": plan.text})
        if plan.tool_call is not None:
            parts.append({"functionCall": self._function_call(plan)})
        return parts

    def _function_call(self, plan: ReplyPlan) -> dict[str, Any]:
        assert plan.tool_call is not None
        call = {"name": plan.tool_call.name, "args": plan.tool_call.arguments}
        if self.issue_call_ids:
            call["id"] = plan.tool_call.id
        return call

    def _render_body(self, plan: ReplyPlan, summary: RequestSummary) -> dict[str, Any]:
        candidate = self._candidate(plan, self._parts(plan))
        candidate["finishReason"] = _FINISH[plan.stop]
        return {
            "candidates": [candidate],
            "usageMetadata": usage_metadata(plan.usage),
            "modelVersion": plan.model,
            "responseId": self._response_id(),
        }

    def _render_frames(
        self, plan: ReplyPlan, summary: RequestSummary, request: RecordedRequest
    ) -> list[wire.Frame]:
        response_id = self._response_id()

        def chunk(candidate: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
            return {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": plan.model,
                "responseId": response_id,
            }

        payloads: list[tuple[dict[str, Any], wire.FrameKind]] = []
        emitted = ""
        for piece in plan.text_chunks:
            emitted += piece
            so_far = min(count_tokens(emitted), plan.usage.output_tokens)
            candidate = self._candidate(plan, [{"text": piece}])
            payloads.append((chunk(candidate, usage_metadata(plan.usage, so_far)), "content"))
        if plan.tool_call is not None:
            call = {"functionCall": self._function_call(plan)}
            final = self._candidate(plan, [call])
        else:
            # The finish reason travels in a closing chunk of its own, as Gemini
            # often sends it, so a fault can drop it without losing any text.
            final = self._candidate(plan, [{"text": ""}])
        final["finishReason"] = _FINISH[plan.stop]
        payloads.append((chunk(final, usage_metadata(plan.usage)), "finish"))

        frames = self._frame_bytes([p for p, _ in payloads], summary)
        result = [wire.Frame(data, kind) for data, (_, kind) in zip(frames, payloads, strict=False)]
        if len(frames) > len(payloads):
            result.append(wire.Frame(frames[-1], "sentinel"))
        return result

    def _frame_bytes(self, payloads: list[dict[str, Any]], summary: RequestSummary) -> list[bytes]:
        """SSE events, or pieces of a JSON array whose closing ``]`` comes last."""
        if isinstance(summary, GeminiSummary) and summary.sse:
            end = self.sse_line_ending * 2
            return [f"data: {compact_json(p)}{end}".encode() for p in payloads]
        pieces = [
            ("[" if i == 0 else ",\r\n") + json.dumps(p, indent=2) for i, p in enumerate(payloads)
        ]
        return [p.encode() for p in pieces] + [b"]"]

    def _stream_content_type(self, summary: RequestSummary) -> str:
        if isinstance(summary, GeminiSummary) and summary.sse:
            return "text/event-stream"
        return "application/json; charset=UTF-8"

    def _stream_error_frame(self, kind: str, summary: RequestSummary, events_before: int) -> bytes:
        if kind == "overloaded":
            error = {
                "code": 503,
                "message": "The model is overloaded. Please try again later.",
                "status": "UNAVAILABLE",
            }
        else:
            error = {
                "code": 500,
                "message": "An internal error has occurred. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting",
                "status": "INTERNAL",
            }
        if isinstance(summary, GeminiSummary) and summary.sse:
            return f"data: {compact_json({'error': error})}{self.sse_line_ending * 2}".encode()
        return (",\r\n" + json.dumps({"error": error}, indent=2) + "]").encode()

    def _invalid_frame(self, payload: str, summary: RequestSummary) -> bytes:
        if isinstance(summary, GeminiSummary) and summary.sse:
            return f"data: {payload}{self.sse_line_ending * 2}".encode()
        return f",\r\n{payload}".encode()


def _duration(value: float | str) -> str:
    """A ``google.protobuf.Duration`` in JSON: seconds with an ``s`` suffix."""
    if isinstance(value, str):
        return value if value.endswith("s") else f"{value}s"
    return f"{value:g}s"
