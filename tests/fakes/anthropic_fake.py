"""Fake Anthropic Messages upstream (``POST /v1/messages``).

Wire format as the Anthropic API sends it: ``message`` bodies with content
blocks, the SSE sequence ``message_start``, ``content_block_start``, ``ping``,
``content_block_delta`` (``text_delta`` / ``input_json_delta``),
``content_block_stop``, ``message_delta`` (stop reason and cumulative usage),
``message_stop``; ``event: error`` inside streams; and error bodies
``{"type": "error", "error": {"type", "message"}, "request_id"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
from tests.fakes.openai_fake import CLOUDFLARE_502
from tests.fakes.recording import RecordedRequest
from tests.fakes.reply import ReplyPlan, RequestSummary, Usage, compact_json, prompt_tokens_of

_STOP = {"end": "end_turn", "tool": "tool_use", "length": "max_tokens", "refusal": "refusal"}


def _text_of(content: Any) -> str:
    """Text of a string or a list of blocks, tool inputs and results included."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            parts.append(compact_json(block.get("input", {})))
        elif kind == "tool_result":
            parts.append(_text_of(block.get("content", "")))
    return " ".join(p for p in parts if p)


def _usage_start(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.uncached_prompt_tokens,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": usage.output_tokens + usage.reasoning_tokens,
        **_thinking_details(usage),
        "service_tier": "standard",
    }


def _thinking_details(usage: Usage) -> dict[str, Any]:
    """The part of the output spent thinking, which the API reports when there was some."""
    if not usage.reasoning_tokens:
        return {}
    return {"output_tokens_details": {"thinking_tokens": usage.reasoning_tokens}}


class AnthropicFake(FakeUpstream):
    """Fake of the Anthropic API. ``base_url`` has no ``/v1``, like the SDK's."""

    default_api_key = "sk-ant-fake"
    # Models that, like Claude Sonnet 4.5 and later, refuse `temperature` and `top_p`
    # together; and models that, like Claude Opus 4.7 and later, refuse any of
    # `temperature`, `top_p` and `top_k`. Anthropic's 400 either way.
    exclusive_sampling_models: frozenset[str] = frozenset()
    sampling_free_models: frozenset[str] = frozenset()

    @property
    def base_url(self) -> str:
        return self.origin

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)

    def _request_id(self) -> str:
        return f"req_fake{self.next_id():08d}"

    def _base_headers(self) -> dict[str, str]:
        return {"request-id": self._request_id(), "anthropic-organization-id": "org-fake"}

    def _tool_call_id(self) -> str:
        return f"toolu_fake{self.next_id():08d}"

    def _error(
        self, status: int, type: str, message: str, headers: dict[str, str] | None = None
    ) -> wire.HttpReply:
        retryable = status in (408, 409, 429) or status >= 500
        merged = {"x-should-retry": "true" if retryable else "false", **(headers or {})}
        body = {
            "type": "error",
            "error": {"type": type, "message": message},
            "request_id": self._request_id(),
        }
        return json_reply(status, body, merged)

    # ------------------------------------------------------------ requests

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        return await self._serve_model_request(request, record, self._summarize)

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        try:
            summary = self._summarize(record, need_max_tokens=False)
        except Rejection as rejection:
            record.behaviour = rejection.behaviour
            return await self._send(request, record, rejection.reply, None)
        record.model = summary.model
        tokens = prompt_tokens_of(summary, self._settings())
        return await self._send(request, record, json_reply(200, {"input_tokens": tokens}), None)

    def _authenticate(self, record: RecordedRequest) -> None:
        # The API takes the key in ``x-api-key`` or, as anthropic-sdk 2.x sends
        # it, as ``Authorization: Bearer <key>``; x-api-key wins if both come.
        key = record.headers.get("x-api-key")
        record.auth_header = key
        if key is None:
            bearer = record.headers.get("authorization")
            record.auth_header = bearer
            if bearer is not None and bearer.lower().startswith("bearer "):
                key = bearer[7:].strip()
        record.credential = key
        if not key:
            raise Rejection(
                self._error(401, "authentication_error", "x-api-key header is required"), "auth"
            )
        if key != self.api_key:
            raise Rejection(self._error(401, "authentication_error", "invalid x-api-key"), "auth")

    def _invalid(self, message: str) -> Rejection:
        return Rejection(self._error(400, "invalid_request_error", message), "invalid")

    def _refuse_sampling(self, model: str, body: dict[str, Any]) -> None:
        if model in self.sampling_free_models:
            for name in ("temperature", "top_p", "top_k"):
                if name in body:
                    raise self._invalid(f"'{name}' is deprecated for this model.")
        if model in self.exclusive_sampling_models and "temperature" in body and "top_p" in body:
            raise self._invalid(
                "`temperature` and `top_p` cannot both be specified for this model. "
                "Please use only one."
            )

    def _summarize(self, record: RecordedRequest, need_max_tokens: bool = True) -> RequestSummary:
        self._authenticate(record)
        if "anthropic-version" not in record.headers:
            raise self._invalid("anthropic-version: header is required")
        body = record.body
        if not isinstance(body, dict):
            raise self._invalid("There was an error parsing the body of your request.")
        for name in ("model", "messages") + (("max_tokens",) if need_max_tokens else ()):
            if name not in body:
                raise self._invalid(f"{name}: Field required")
        model, messages = body["model"], body["messages"]
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            raise self._invalid("messages: at least one message is required")
        self._refuse_sampling(model, body)

        _check_thinking(messages, self._invalid)
        texts = [_text_of(body.get("system"))]
        texts.extend(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        trailing: str | None = None
        if last.get("role") == "assistant":
            trailing = _text_of(last.get("content"))
            if trailing != trailing.rstrip():
                raise self._invalid(
                    "messages: final assistant content cannot end with trailing whitespace"
                )
        content = last.get("content")
        last_is_tool_result = (
            last.get("role") == "user"
            and isinstance(content, list)
            and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
        )
        tool_names = frozenset(
            str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)
        )
        max_tokens = body.get("max_tokens")
        return RequestSummary(
            model=model,
            stream=body.get("stream") is True,
            prompt_text="\n".join(t for t in texts if t),
            tool_names=tool_names,
            trailing_assistant=trailing,
            last_is_tool_result=last_is_tool_result,
            max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
        )

    # ------------------------------------------------------------ rendering

    def _unknown_model_reply(self, summary: RequestSummary) -> wire.HttpReply:
        return self._error(404, "not_found_error", f"model: {summary.model}")

    def _not_found_reply(self, request: web.Request) -> wire.HttpReply:
        return self._error(404, "not_found_error", "Not Found")

    def _invalid_request_reply(self, message: str) -> wire.HttpReply:
        return self._error(400, "invalid_request_error", message)

    def _prefill_rejection(self, summary: RequestSummary) -> wire.HttpReply:
        return self._error(
            400,
            "invalid_request_error",
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message.",
        )

    def _error_reply(self, fault: HttpFault, summary: RequestSummary) -> wire.HttpReply:
        if isinstance(fault, RateLimited):
            reset = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            headers = {
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": reset,
            }
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            return self._error(
                429,
                "rate_limit_error",
                "This request would exceed your account's rate limit. Please try again later.",
                headers,
            )
        if isinstance(fault, QuotaExhausted):
            return self._error(
                400,
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API. "
                "Please go to Plans & Billing to upgrade or purchase credits.",
            )
        if isinstance(fault, BadGateway):
            return wire.HttpReply(502, CLOUDFLARE_502, "text/html")
        if isinstance(fault, Overloaded):
            return self._error(529, "overloaded_error", "Overloaded")
        if isinstance(fault, ServiceUnavailable):
            return self._error(503, "api_error", "Service Unavailable")
        if isinstance(fault, ContextLengthExceeded):
            tokens, limit = self._context_numbers(fault, summary)
            message = f"prompt is too long: {tokens} tokens > {limit} maximum"
            return self._error(400, "invalid_request_error", message)
        if isinstance(fault, ContentPolicy):
            return self._error(
                400, "invalid_request_error", "Output blocked by content filtering policy"
            )
        assert isinstance(fault, ServerError), fault
        return self._error(500, "api_error", "Internal server error")

    def _blocks(self, plan: ReplyPlan) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if plan.text:
            blocks.append({"type": "text", "text": plan.text})
        if plan.tool_call is not None:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": plan.tool_call.id,
                    "name": plan.tool_call.name,
                    "input": plan.tool_call.arguments,
                }
            )
        return blocks

    def _message(self, plan: ReplyPlan, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": f"msg_fake{self.next_id():08d}",
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage_start(plan.usage),
        }

    def _render_body(self, plan: ReplyPlan, summary: RequestSummary) -> dict[str, Any]:
        message = self._message(plan, self._blocks(plan))
        message["stop_reason"] = _STOP[plan.stop]
        if plan.stop == "refusal":
            message["stop_details"] = _refusal_details()
        return message

    def _render_frames(
        self, plan: ReplyPlan, summary: RequestSummary, request: RecordedRequest
    ) -> list[wire.Frame]:
        start = self._message(plan, [])
        # The opening usage holds the input side; output is counted as it goes.
        start["usage"]["output_tokens"] = 1
        frames = [_event("message_start", {"type": "message_start", "message": start})]
        ping = _event("ping", {"type": "ping"})
        for index, block in enumerate(self._blocks(plan)):
            if block["type"] == "text":
                opened: dict[str, Any] = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": piece} for piece in plan.text_chunks]
            else:
                opened = {**block, "input": {}}
                # The API opens every tool input with an empty fragment; a call without
                # arguments gets that fragment alone.
                pieces = ["", *plan.tool_arg_chunks] if block["input"] else [""]
                deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
            frames.append(
                _event(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opened},
                )
            )
            if index == 0:
                frames.append(ping)
            frames.extend(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
                for delta in deltas
            )
            frames.append(
                _event("content_block_stop", {"type": "content_block_stop", "index": index})
            )
        if len(frames) == 1:
            frames.append(ping)
        usage = plan.usage
        delta: dict[str, Any] = {"stop_reason": _STOP[plan.stop], "stop_sequence": None}
        if plan.stop == "refusal":
            delta["stop_details"] = _refusal_details()
        message_delta = {
            "type": "message_delta",
            "delta": delta,
            "usage": {
                "input_tokens": usage.uncached_prompt_tokens,
                "cache_creation_input_tokens": usage.cache_creation_tokens,
                "cache_read_input_tokens": usage.cached_tokens,
                "output_tokens": usage.output_tokens + usage.reasoning_tokens,
                **_thinking_details(usage),
            },
        }
        frames.append(_event("message_delta", message_delta, "finish"))
        frames.append(_event("message_stop", {"type": "message_stop"}, "sentinel"))
        return frames

    def _stream_error_frame(self, kind: str, summary: RequestSummary, events_before: int) -> bytes:
        if kind == "overloaded":
            error = {"details": None, "type": "overloaded_error", "message": "Overloaded"}
        else:
            error = {"details": None, "type": "api_error", "message": "Internal server error"}
        payload = {"type": "error", "error": error, "request_id": self._request_id()}
        return _event("error", payload).data

    def _invalid_frame(self, payload: str, summary: RequestSummary) -> bytes:
        # Without an event name the SDK would skip the frame unread, so the
        # junk travels under a real event name, as a corrupted delta would.
        return f"event: content_block_delta\ndata: {payload}\n\n".encode()


def _check_thinking(messages: list[Any], invalid: Callable[[str], Rejection]) -> None:
    """The API checks the signature of every thinking block replayed to it; one that is
    missing or empty (another vendor's reasoning) gets a 400."""
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            signature = block.get("signature")
            if not isinstance(signature, str) or not signature:
                raise invalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")


REFUSAL_DETAILS = {
    "type": "refusal",
    "category": "cyber",
    "explanation": "The request asked for help with an attack on a live system.",
}


def _refusal_details() -> dict[str, Any]:
    return dict(REFUSAL_DETAILS)


def _event(name: str, payload: dict[str, Any], kind: wire.FrameKind = "content") -> wire.Frame:
    return wire.Frame(f"event: {name}\ndata: {compact_json(payload)}\n\n".encode(), kind)
