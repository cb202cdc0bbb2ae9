"""Fake OpenAI upstream: Chat Completions (``POST /v1/chat/completions``) and the
Responses API (``POST /v1/responses``), on one fake as on one OpenAI account.

Chat wire format as the OpenAI API sends it: ``chat.completion`` bodies,
``chat.completion.chunk`` SSE events ending in ``data: [DONE]``, the usage-only
final chunk with empty ``choices`` when ``stream_options.include_usage`` is set
(every other chunk then carries ``"usage": null``), the per-chunk
``obfuscation`` padding unless ``stream_options.include_obfuscation`` is false,
and ``{"error": {"message", "type", "param", "code"}}`` error bodies.

Responses requests share the scripting, faults, recording and authentication;
their summarising and rendering live in ``openai_responses_wire``, and this
module picks between the two APIs by the summary's type.
"""

from __future__ import annotations

import re
import time
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
from tests.fakes.openai_responses_wire import (
    ResponseIds,
    ResponsesSummary,
    error_event,
    invalid_event,
    render_events,
    response_object,
    summarize_responses,
)
from tests.fakes.recording import RecordedRequest
from tests.fakes.reply import ReplyPlan, RequestSummary, Usage, compact_json, split_even

CLOUDFLARE_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

_FINISH = {"end": "stop", "tool": "tool_calls", "length": "length", "refusal": "stop"}

_STREAM_ERROR_MESSAGES = {
    "overloaded": "The server is overloaded or not ready yet.",
    "server_error": "The server had an error while processing your request. Sorry about that!",
}


def openai_error(
    status: int,
    message: str,
    *,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> wire.HttpReply:
    """An error in OpenAI's shape."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return json_reply(status, body, headers)


def redact_key(key: str) -> str:
    """OpenAI quotes a wrong key back with its middle starred out."""
    if len(key) <= 8:
        return key
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    return ""


def usage_json(usage: Usage) -> dict[str, Any]:
    completion = usage.output_tokens + usage.reasoning_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": usage.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class OpenAIFake(FakeUpstream):
    """Fake of the OpenAI API. ``base_url`` ends in ``/v1`` like the SDK's."""

    default_api_key = "sk-fake-openai"
    # OpenAI does not continue a trailing assistant message: it answers anew.
    default_prefill = "ignore"
    # Streamed chat content carries log-probabilities when the request asks
    # (`logprobs: true`, as OpenAI does), or always when this is set (for a
    # request translated from a protocol that cannot ask).
    stream_logprobs = False
    # Models that, like OpenAI's reasoning models (o-series, GPT-5), refuse a
    # `temperature` other than 1 and any `top_p` or penalty, with OpenAI's 400.
    reasoning_models: frozenset[str] = frozenset()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_get("/v1/models", self._list_models)

    def _base_headers(self) -> dict[str, str]:
        return {
            "x-request-id": f"req_fake{self.next_id():08d}",
            "openai-version": "2020-10-01",
            "openai-organization": "org-fake",
            "openai-processing-ms": "1",
        }

    def _tool_call_id(self) -> str:
        return f"call_fake{self.next_id():08d}"

    def _response_ids(self) -> ResponseIds:
        return ResponseIds(
            response=f"resp_fake{self.next_id():08d}",
            message=f"msg_fake{self.next_id():08d}",
            function_call=f"fc_fake{self.next_id():08d}",
        )

    # ------------------------------------------------------------ requests

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        try:
            self._authenticate(record)
        except Rejection as rejection:
            record.behaviour = rejection.behaviour
            return await self._send(request, record, rejection.reply, None)
        models = sorted(self.known_models or set(self.resolved_models) or {"gpt-fake"})
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "openai"} for m in models]
        reply = json_reply(200, {"object": "list", "data": data})
        return await self._send(request, record, reply, None)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        return await self._serve_model_request(request, record, self._summarize)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        return await self._serve_model_request(request, record, self._summarize_responses)

    def _authenticate(self, record: RecordedRequest) -> None:
        header = record.headers.get("authorization")
        record.auth_header = header
        if header is None or not header.lower().startswith("bearer ") or not header[7:].strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys."
            )
            raise Rejection(openai_error(401, message, type="invalid_request_error"), "auth")
        key = header[7:].strip()
        record.credential = key
        if key != self.api_key:
            message = (
                f"Incorrect API key provided: {redact_key(key)}. You can find your API key "
                "at https://platform.openai.com/account/api-keys."
            )
            reply = openai_error(401, message, type="invalid_request_error", code="invalid_api_key")
            raise Rejection(reply, "auth")

    def _json_body(self, record: RecordedRequest) -> dict[str, Any]:
        body = record.body
        if not isinstance(body, dict):
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON. If you have trouble figuring "
                "out how to fix this, please contact us through our help center at "
                "help.openai.com.)"
            )
            raise Rejection(openai_error(400, message, type="invalid_request_error"), "invalid")
        return body

    def _summarize(self, record: RecordedRequest) -> RequestSummary:
        self._authenticate(record)
        body = self._json_body(record)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            reply = openai_error(
                400, "you must provide a model parameter", type="invalid_request_error"
            )
            raise Rejection(reply, "invalid")
        self._refuse_sampling(model, body)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise Rejection(_missing_parameter("messages"), "invalid")
        if not messages:
            reply = openai_error(
                400,
                "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                "but got an empty array instead.",
                type="invalid_request_error",
                param="messages",
                code="empty_array",
            )
            raise Rejection(reply, "invalid")

        texts: list[str] = []
        for message in messages:
            if not isinstance(message, dict):
                continue
            texts.append(_text_of(message.get("content")))
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    function = call.get("function") or {}
                    texts.append(str(function.get("arguments", "")))
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        trailing = None
        if last.get("role") == "assistant" and not last.get("tool_calls"):
            trailing = _text_of(last.get("content"))
        tool_names = frozenset(
            str((tool.get("function") or {}).get("name"))
            for tool in body.get("tools") or []
            if isinstance(tool, dict)
        )
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        return RequestSummary(
            model=model,
            stream=body.get("stream") is True,
            prompt_text="\n".join(t for t in texts if t),
            tool_names=tool_names,
            trailing_assistant=trailing,
            last_is_tool_result=last.get("role") == "tool",
            max_output_tokens=limit if isinstance(limit, int) else None,
        )

    def _summarize_responses(self, record: RecordedRequest) -> ResponsesSummary:
        self._authenticate(record)
        body = self._json_body(record)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise Rejection(_missing_parameter("model"), "invalid")
        self._refuse_sampling(model, body)
        raw_input = body.get("input")
        if raw_input is None:
            raise Rejection(_missing_parameter("input"), "invalid")
        if not isinstance(raw_input, str | list):
            reply = openai_error(
                400,
                "Invalid type for 'input': expected one of a string or array of input items, "
                f"but got {type(raw_input).__name__} instead.",
                type="invalid_request_error",
                param="input",
                code="invalid_type",
            )
            raise Rejection(reply, "invalid")
        return summarize_responses(model, body)

    def _refuse_sampling(self, model: str, body: dict[str, Any]) -> None:
        """A reasoning model's refusal of sampling settings, worded as OpenAI words it."""
        if model not in self.reasoning_models:
            return
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1:
            reply = openai_error(
                400,
                f"Unsupported value: 'temperature' does not support {temperature} with this "
                "model. Only the default (1) value is supported.",
                type="invalid_request_error",
                param="temperature",
                code="unsupported_value",
            )
            raise Rejection(reply, "invalid")
        for name in ("top_p", "presence_penalty", "frequency_penalty"):
            if name in body:
                reply = openai_error(
                    400,
                    f"Unsupported parameter: '{name}' is not supported with this model.",
                    type="invalid_request_error",
                    param=name,
                    code="unsupported_parameter",
                )
                raise Rejection(reply, "invalid")

    # ------------------------------------------------------------ rendering

    def _unknown_model_reply(self, summary: RequestSummary) -> wire.HttpReply:
        if isinstance(summary, ResponsesSummary):
            # The Responses API answers an unknown model with a 400, not chat's 404.
            return openai_error(
                400,
                f"The requested model '{summary.model}' does not exist.",
                type="invalid_request_error",
                param="model",
                code="model_not_found",
            )
        message = f"The model `{summary.model}` does not exist or you do not have access to it."
        return openai_error(404, message, type="invalid_request_error", code="model_not_found")

    def _not_found_reply(self, request: web.Request) -> wire.HttpReply:
        message = f"Invalid URL ({request.method} {request.path})"
        return openai_error(404, message, type="invalid_request_error")

    def _invalid_request_reply(self, message: str) -> wire.HttpReply:
        return openai_error(400, message, type="invalid_request_error")

    def _prefill_rejection(self, summary: RequestSummary) -> wire.HttpReply:
        # OpenAI has no such error; this is a stand-in in its shape so that a
        # gateway's "model rejects prefill" learning can be tested here too.
        return openai_error(
            400,
            "This model does not support a final assistant message. "
            "The conversation must end with a user message.",
            type="invalid_request_error",
            param="input" if isinstance(summary, ResponsesSummary) else "messages",
        )

    def _error_reply(self, fault: HttpFault, summary: RequestSummary) -> wire.HttpReply:
        if isinstance(fault, RateLimited):
            headers = {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "120ms",
            }
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            message = (
                f"Rate limit reached for {summary.model} in organization org-fake on requests "
                "per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms. "
                "Visit https://platform.openai.com/account/rate-limits to learn more."
            )
            return openai_error(
                429, message, type="requests", code="rate_limit_exceeded", headers=headers
            )
        if isinstance(fault, QuotaExhausted):
            message = (
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors."
            )
            return openai_error(429, message, type="insufficient_quota", code="insufficient_quota")
        if isinstance(fault, BadGateway):
            return wire.HttpReply(502, CLOUDFLARE_502, "text/html")
        if isinstance(fault, Overloaded | ServiceUnavailable):
            return openai_error(
                503, "The server is overloaded or not ready yet.", type="server_error"
            )
        if isinstance(fault, ContextLengthExceeded) and isinstance(summary, ResponsesSummary):
            # The Responses API quotes no numbers, unlike chat.
            return openai_error(
                400,
                "Your input exceeds the context window of this model. "
                "Please adjust your input and try again.",
                type="invalid_request_error",
                param="input",
                code="context_length_exceeded",
            )
        if isinstance(fault, ContextLengthExceeded):
            tokens, limit = self._context_numbers(fault, summary)
            message = (
                f"This model's maximum context length is {limit} tokens. However, your messages "
                f"resulted in {tokens} tokens. Please reduce the length of the messages."
            )
            return openai_error(
                400,
                message,
                type="invalid_request_error",
                param="messages",
                code="context_length_exceeded",
            )
        if isinstance(fault, ContentPolicy):
            message = (
                "Your request was rejected as a result of our safety system. Your prompt may "
                "contain text that is not allowed by our safety system."
            )
            return openai_error(
                400, message, type="invalid_request_error", code="content_policy_violation"
            )
        assert isinstance(fault, ServerError), fault
        return openai_error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            type="server_error",
        )

    def _message(self, plan: ReplyPlan) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": plan.text if plan.text or plan.tool_call is None else None,
            "refusal": plan.refusal_text,
            "annotations": [],
        }
        if plan.refusal_text is not None:
            message["content"] = None
        if plan.tool_call is not None:
            message["tool_calls"] = [
                {
                    "id": plan.tool_call.id,
                    "type": "function",
                    "function": {
                        "name": plan.tool_call.name,
                        "arguments": plan.tool_call.arguments_json,
                    },
                }
            ]
        return message

    def _render_body(self, plan: ReplyPlan, summary: RequestSummary) -> dict[str, Any]:
        if isinstance(summary, ResponsesSummary):
            ids = self._response_ids()
            return response_object(plan, summary, ids, int(time.time()), final=True)
        return {
            "id": f"chatcmpl-fake{self.next_id():08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": plan.model,
            "choices": [
                {
                    "index": 0,
                    "message": self._message(plan),
                    "logprobs": None,
                    "finish_reason": _FINISH[plan.stop],
                }
            ],
            "usage": usage_json(plan.usage),
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
        }

    def _render_frames(
        self, plan: ReplyPlan, summary: RequestSummary, request: RecordedRequest
    ) -> list[wire.Frame]:
        if isinstance(summary, ResponsesSummary):
            ids = self._response_ids()
            return render_events(plan, summary, ids, int(time.time()), self.stream_chunks)
        body = request.body if isinstance(request.body, dict) else {}
        options = body.get("stream_options") or {}
        include_usage = options.get("include_usage") is True
        obfuscate = options.get("include_obfuscation") is not False
        with_logprobs = self.stream_logprobs or body.get("logprobs") is True
        top = body.get("top_logprobs")
        top_n = top if isinstance(top, int) and with_logprobs else 0
        tokens_so_far = 0
        head: dict[str, Any] = {
            "id": f"chatcmpl-fake{self.next_id():08d}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": plan.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
        }
        frames: list[wire.Frame] = []

        def chunk(delta: dict[str, Any], finish: str | None = None, kind: str = "content") -> None:
            nonlocal tokens_so_far
            logprobs = None
            text = delta.get("content") or delta.get("refusal")
            if with_logprobs and text:
                entries = token_logprobs(text, tokens_so_far, top_n)
                tokens_so_far += len(entries)
                key = "content" if delta.get("content") else "refusal"
                logprobs = {"content": None, "refusal": None, key: entries}
            payload = dict(head)
            payload["choices"] = [
                {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            ]
            if include_usage:
                payload["usage"] = None
            if obfuscate:
                # Real chunks carry random padding here; its length only has
                # to vary, so a deterministic filler keeps tests reproducible.
                payload["obfuscation"] = "x" * (1 + len(frames) % 7)
            frames.append(wire.Frame(_sse(payload), "finish" if kind == "finish" else "content"))

        call = plan.tool_call
        if plan.refusal_text is not None:
            chunk({"role": "assistant", "content": None, "refusal": ""})
            for piece in split_even(plan.refusal_text, self.stream_chunks):
                chunk({"refusal": piece})
        elif call is not None and not plan.text:
            chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [_call_start(call.id, call.name)],
                    "refusal": None,
                }
            )
        else:
            chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in plan.text_chunks:
                chunk({"content": piece})
            if call is not None:
                chunk({"tool_calls": [_call_start(call.id, call.name)]})
        if call is not None:
            for piece in plan.tool_arg_chunks:
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        chunk({}, _FINISH[plan.stop], kind="finish")
        if include_usage:
            payload = dict(head)
            payload["choices"] = []
            payload["usage"] = usage_json(plan.usage)
            frames.append(wire.Frame(_sse(payload), "finish"))
        frames.append(wire.Frame(b"data: [DONE]\n\n", "sentinel"))
        return frames

    def _stream_error_frame(self, kind: str, summary: RequestSummary, events_before: int) -> bytes:
        message = _STREAM_ERROR_MESSAGES[kind]
        if isinstance(summary, ResponsesSummary):
            # Responses events are numbered, so the error takes the next number.
            return error_event(kind, message, events_before)
        error = {"message": message, "type": "server_error", "param": None, "code": None}
        return _sse({"error": error})

    def _invalid_frame(self, payload: str, summary: RequestSummary) -> bytes:
        if isinstance(summary, ResponsesSummary):
            return invalid_event(payload)
        return super()._invalid_frame(payload, summary)


_TOKEN = re.compile(r"\s*\S+|\s+")


def token_logprobs(text: str, first: int, top: int) -> list[dict[str, Any]]:
    """The `logprobs.content` entries of a streamed piece of text: one token per word
    with the whitespace before it (they concatenate back to ``text``), the n-th token of
    the answer (from 0, ``first`` for this piece's first) at logprob ``-(n + 1) / 100``,
    with ``top`` alternatives (the token itself first, then ``alt1``, ``alt2``...)."""
    entries = []
    for n, token in enumerate(_TOKEN.findall(text), start=first):
        logprob = -(n + 1) / 100
        alternatives = [
            {"token": token, "logprob": logprob, "bytes": list(token.encode())},
            *(
                {"token": f"alt{k}", "logprob": logprob - k, "bytes": list(f"alt{k}".encode())}
                for k in range(1, top)
            ),
        ]
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives[:top],
            }
        )
    return entries


def _missing_parameter(name: str) -> wire.HttpReply:
    return openai_error(
        400,
        f"Missing required parameter: '{name}'.",
        type="invalid_request_error",
        param=name,
        code="missing_required_parameter",
    )


def _call_start(call_id: str, name: str) -> dict[str, Any]:
    return {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {compact_json(payload)}\n\n".encode()
