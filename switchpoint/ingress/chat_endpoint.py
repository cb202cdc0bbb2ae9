"""The chat endpoint every ingress protocol shares: parse, route, execute, answer.

The protocol-specific parts (body shape, response and stream encoding, error shape) come
from an `IngressCodec`; everything else (switchpoint's headers, routing, execution,
explaining the answer, recording the call) is the same whichever protocol the client
speaks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import orjson

from switchpoint.budgets.admission import TaskRequest
from switchpoint.budgets.estimate import requested_max_output
from switchpoint.chat.request import ChatRequest
from switchpoint.chat.stream import Finish, StreamEvent
from switchpoint.compaction.assessment import ContextAssessment
from switchpoint.compaction.planning import SummarizationWork
from switchpoint.errors import GatewayError, invalid_request
from switchpoint.execution.executor import RequestRecovery
from switchpoint.execution.records import CallRecord
from switchpoint.execution.stream_run import StreamFailed, StreamRun
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import CallOptions, parse_call_options
from switchpoint.ingress.codec import IngressCodec, ParsedBody, StreamEncoder
from switchpoint.ingress.nesting import nesting_error
from switchpoint.ingress.request_ids import new_request_id, request_id_headers
from switchpoint.ingress.task_access import check_call_task_team
from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC_PROTOCOL
from switchpoint.routing.decision import RoutingDecision
from switchpoint.routing.resolve import rejected_error
from switchpoint.server.request import Request
from switchpoint.server.response import FinalPiece, Response, StreamingResponse

_KEEP_MARKER = b"switchpoint_keep"
# Set when the request's output maximum was capped to the serving model's limit.
OUTPUT_CAPPED_HEADER = "x-switchpoint-output-capped"
DROPPED_PARAMS_HEADER = "x-switchpoint-dropped-params"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise invalid_request("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(body, dict):
        raise invalid_request("the request body must be a JSON object")
    return body


def explain_headers(call: CallRecord) -> list[tuple[str, str]]:
    headers = request_id_headers(call.protocol, call.request_id)
    decision = call.decision
    if decision is not None:
        headers.append(("x-switchpoint-workload", decision.requested_profile))
        if decision.rules:
            # The routing rules that fired: why a call moved off the profile it asked for
            # before any attempt (a budget, the context guard), or was summarized.
            headers.append(("x-switchpoint-rules", ",".join(decision.rules)))
    served = call.served
    if served is not None:
        headers.append(("x-switchpoint-profile", served.profile))
        headers.append(("x-switchpoint-provider", served.provider))
        headers.append(("x-switchpoint-model", served.model))
        headers.append(("x-switchpoint-fallback", "true" if call.fallback else "false"))
        if served.output_capped is not None:
            # The client's output maximum was above what the serving model writes.
            headers.append((OUTPUT_CAPPED_HEADER, str(served.output_capped)))
        if served.dropped_params:
            # Sampling settings the serving model refuses were left out.
            headers.append((DROPPED_PARAMS_HEADER, ",".join(served.dropped_params)))
    action = call.context_action
    if action is not None:
        headers.append(("x-switchpoint-context", action))
        headers.append(("x-switchpoint-context-tokens-before", str(call.context_tokens)))
        headers.append(("x-switchpoint-context-tokens-after", str(call.context_tokens_after)))
    if call.attempts:
        headers.append(("x-switchpoint-attempts", str(call.upstream_attempts)))
        headers.append(("x-switchpoint-retries", str(call.retries)))
        headers.append(("x-switchpoint-fallbacks", str(call.fallbacks)))
        if call.fallback_reasons:
            headers.append(("x-switchpoint-fallback-reasons", ",".join(call.fallback_reasons)))
    return headers


def _retry_after(seconds: float) -> tuple[str, str]:
    """The header in whole seconds, never 0 (which clients read as "now")."""
    return ("retry-after", str(max(1, round(seconds))))


def stream_epilogue(call: CallRecord) -> bytes:
    """An SSE comment (ignored by SDKs, kept by raw readers and proxies' logs) stating
    what the headers could not: the stream was resumed, by which models, in how many
    attempts."""
    return (
        f": switchpoint continued models={','.join(call.models)} "
        f"attempts={call.upstream_attempts} continuations={call.continuations}\n\n"
    ).encode()


class ChatEndpoint:
    def __init__(self, gateway: Gateway, codec: IngressCodec) -> None:
        self.gateway = gateway
        self.codec = codec
        self._shedder = gateway.shedder if gateway.shedder.enabled else None
        self._anthropic = codec.protocol == ANTHROPIC_PROTOCOL

    async def __call__(self, request: Request) -> Response | StreamingResponse:
        gateway = self.gateway
        if self._shedder is not None:
            overloaded = self._shedder.refusal(anthropic=self._anthropic)
            if overloaded is not None:
                return self._shed(overloaded)
        call = CallRecord(
            request_id=new_request_id(),
            protocol=self.codec.protocol,
            stream=False,
            started_wall=time.time(),
            started_at=gateway.clock(),
            traceparent=request.header(b"traceparent"),
            tracestate=request.header(b"tracestate"),
        )
        gateway.bus.call_started(call)
        # Set once the call's end is handed to the stream, or to the response's
        # `after_sent` (listeners run after the answer is written, off its latency).
        handed_over = False
        try:
            body = parse_json_object(request.body)
            parsed = self.codec.parse(body)
            call.stream = parsed.stream
            options = parse_call_options(request)
            call.task_id = options.task_id
            principal = await gateway.authenticate(options.client_key)
            call.key_id = principal.key_id
            call.team = principal.team
            if options.task_id is not None and principal.team is not None:
                await check_call_task_team(gateway, principal, options.task_id)
            chat_request = ChatRequest(
                self.codec.protocol,
                body,
                stream=parsed.stream,
                decoder=self.codec.decode,
                vendor_headers=self.codec.vendor_headers(request.headers),
                continues_prefill=self.codec.continues_prefill,
                prefill_reader=self.codec.prefill_text,
            )
            if _KEEP_MARKER in request.body:
                chat_request.conversation()  # decode while the keep flags are still there
                self.codec.strip_extensions(body)
            max_output = requested_max_output(body)
            context = await gateway.assess(
                chat_request,
                workload=options.workload,
                model=parsed.model,
                raw=request.body,
                strategy=options.context_strategy,
                context_tokens=options.context_tokens,
                max_output=max_output,
            )
            routing = _Routing(gateway, call, options, context)
            try:
                decision, _ = gateway.admission.admit(
                    call,
                    principal,
                    _task_request(options),
                    routing,
                    max_output,
                    routing.summarization,
                )
            except GatewayError:
                # Refused (too large for any model, over a budget): the workload it asked
                # for and the size it was refused for are still the call's, for its
                # headers and its record (metrics count it under that workload).
                requested = gateway.registry.profiles[context.selection.profile]
                call.workload = requested.name
                call.context_tokens = context.size.tokens(requested)
                raise
            call.decision = decision
            call.workload = decision.requested_profile
            call.context_tokens = decision.context_tokens
            if decision.context_action == "summarized" and context.planned is not None:
                # Before any byte of a stream is sent.
                chat_request = await gateway.compactor.summarize_for_dispatch(
                    call, chat_request, context.planned, routing.without_summarization
                )
                call.context_tokens = call.decision.context_tokens  # moved, if it failed
            _note_count(call, context, gateway)
            recover = (
                gateway.compactor.recovery(call, max_output)
                if call.decision.context_strategy == "hierarchical"
                else None
            )
            if parsed.stream:
                streamed = await self._stream(call, chat_request, parsed, recover)
                handed_over = True
                return streamed
            answer = await gateway.executor.complete(call, chat_request, recover=recover)
            self._show_output_limit(call, parsed)
            payload = self.codec.encode_response(answer, parsed, call.request_id)
            answered = Response(
                200, payload, headers=explain_headers(call), after_sent=self._finisher(call)
            )
            handed_over = True
            return answered
        except GatewayError as error:
            refused = self._error(call, error)
            handed_over = True
            return refused
        except BaseException as exc:
            too_deep = nesting_error(exc)
            if too_deep is not None:
                refused = self._error(call, too_deep)
                handed_over = True
                return refused
            call.status = "cancelled"
            call.http_status = 499
            raise
        finally:
            if not handed_over:
                self._finish(call)

    async def _stream(
        self,
        call: CallRecord,
        chat_request: ChatRequest,
        parsed: ParsedBody,
        recover: RequestRecovery | None,
    ) -> StreamingResponse:
        run = StreamRun(self.gateway.executor, call, chat_request, recover=recover)
        await run.start()
        self._show_output_limit(call, parsed)
        # The count routing made (of what is sent, once summarized): no count of its own.
        encoder = self.codec.stream_encoder(
            parsed, call.request_id, input_tokens=call.context_tokens_after
        )
        answer = _StreamedAnswer(self, call, run, encoder)
        call.ttft_s = _call_ttft(call)
        return StreamingResponse(
            200, answer.body(), headers=explain_headers(call), on_close=answer.on_close
        )

    def _show_output_limit(self, call: CallRecord, parsed: ParsedBody) -> None:
        """The answer states the output maximum it was written under (the serving
        model's limit when the request's was above it), as its headers do."""
        served = call.served
        if served is not None and served.output_capped is not None:
            self.codec.show_output_limit(parsed, served.output_capped)

    def _error(self, call: CallRecord, error: GatewayError) -> Response:
        self._mark_error(call, error)
        headers = explain_headers(call)
        if error.kind == "budget_exceeded":
            # A spent budget does not come back in seconds: SDKs must not retry the 429.
            headers.append(("x-should-retry", "false"))
        if error.retry_after_s is not None:
            headers.append(_retry_after(error.retry_after_s))
        return Response(
            error.status,
            orjson.dumps(self.codec.error_body(error)),
            headers=headers,
            after_sent=self._finisher(call),
        )

    def _shed(self, error: GatewayError) -> Response:
        """A refusal while overloaded: no call record, nothing but the answer and its
        request id (a counter's next value), which clients log with the failure."""
        headers = request_id_headers(self.codec.protocol, new_request_id())
        headers.append(_retry_after(error.retry_after_s or 1.0))
        return Response(error.status, orjson.dumps(self.codec.error_body(error)), headers=headers)

    @staticmethod
    def _mark_error(call: CallRecord, error: GatewayError) -> None:
        call.status = (
            "client_error"
            if 400 <= error.status < 500 and error.kind not in ("rate_limit", "overloaded")
            else "upstream_error"
        )
        call.http_status = error.status
        call.error_kind = error.kind
        call.error = error.message

    def _finish(self, call: CallRecord) -> None:
        call.duration_s = self.gateway.clock() - call.started_at
        self.gateway.bus.call(call)

    def _finisher(self, call: CallRecord) -> Callable[[], None]:
        return lambda: self._finish(call)


class _StreamedAnswer:
    """A streamed call's body and its end, as the server relays them.

    One object per stream rather than closures (three functions and their cells): with
    thousands of streams in flight, every object they hold is one more for each garbage
    collection to walk (docs/performance.md)."""

    __slots__ = ("_call", "_encoder", "_endpoint", "_finished", "_run")

    def __init__(
        self, endpoint: ChatEndpoint, call: CallRecord, run: StreamRun, encoder: StreamEncoder
    ) -> None:
        self._endpoint = endpoint
        self._call = call
        self._run = run
        self._encoder = encoder
        self._finished = False

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._endpoint._finish(self._call)

    async def body(self) -> AsyncIterator[bytes]:
        call, run, encoder = self._call, self._run, self._encoder
        relayed = False  # the server has written a piece, and the 200 head with it
        try:
            # Closed here, not left to the garbage collector: a client that leaves
            # mid-stream ends the upstream stream and its attempt at once.
            async with aclosing(run.events()) as batches:
                async for batch in batches:
                    if len(batch) == 1 and not run.continued:
                        piece = encoder.encode(batch[0])
                    else:
                        piece = self._joined(batch)
                    last = type(batch[-1]) is Finish
                    # Not held while the next batch is awaited.
                    del batch
                    # The batch that finishes the answer is the stream's last piece.
                    yield FinalPiece(piece) if last else piece
                    relayed = True
        except StreamFailed as failed:
            self._endpoint._mark_error(call, failed.error)
            # The 200 head leaves with the error event: the record keeps the status the
            # client got, and `status` and `error_kind` say how the stream ended.
            call.http_status = 200
            yield encoder.encode_error(self._endpoint.codec.error_body(failed.error))
        except BaseException:
            call.status = "cancelled"
            if not relayed:
                call.http_status = 499  # nginx's "client closed request", before any answer
            raise
        finally:
            self._finish()

    def _joined(self, batch: list[StreamEvent]) -> bytes:
        """Several events (or any, once the answer was continued) as one piece."""
        continued = self._run.continued
        pieces = []
        for event in batch:
            if type(event) is Finish and continued:
                pieces.append(stream_epilogue(self._call))
            pieces.append(self._encoder.encode(event))
        return b"".join(pieces)

    async def on_close(self) -> None:
        # Reached without `body()` having run when the client left before the first
        # byte: the upstream stream is still open and the call not yet recorded.
        if not self._finished:
            self._call.status = "cancelled"
            self._call.http_status = 499
            await self._run.abandon()
            self._finish()


class _Routing:
    """Routing for one call, as admission asks for it (again, if over a task budget)."""

    __slots__ = ("_call", "_context", "_gateway", "_options", "_over_task_budget")

    def __init__(
        self,
        gateway: Gateway,
        call: CallRecord,
        options: CallOptions,
        context: ContextAssessment,
    ) -> None:
        self._gateway = gateway
        self._call = call
        self._options = options
        self._context = context
        self._over_task_budget = False

    def __call__(self, over_task_budget: bool) -> tuple[RoutingDecision, int]:
        gateway = self._gateway
        decision, tokens = gateway.route(
            self._context, budget=self._options.budget, over_task_budget=over_task_budget
        )
        if decision.context_action == "rejected":
            self._call.decision = decision
            raise rejected_error(gateway.registry, decision)
        self._over_task_budget = over_task_budget
        return decision, tokens

    def summarization(self, decision: RoutingDecision) -> SummarizationWork | None:
        """What summarizing for `decision` may cost, for its budgets; None if it does not
        summarize."""
        planned = self._context.planned
        if decision.context_action != "summarized" or planned is None:
            return None
        return self._gateway.compactor.planner.work(planned)

    def without_summarization(self) -> RoutingDecision:
        """The decision the `none` strategy makes (a summarization failed)."""
        decision, _ = self._gateway.route(
            self._context,
            budget=self._options.budget,
            over_task_budget=self._over_task_budget,
            strategy="none",
        )
        return decision


def _note_count(call: CallRecord, context: ContextAssessment, gateway: Gateway) -> None:
    """The count calibration will learn from: for the profile dispatched to (a
    summarization has noted its own)."""
    if call.token_count is not None or call.decision is None:
        return
    profile = gateway.registry.profiles[call.decision.profile]
    count = context.count_for(profile)
    if count is not None:
        call.token_count = count
        call.token_count_target = (profile.provider, profile.model)


def _task_request(options: CallOptions) -> TaskRequest | None:
    if options.task_id is None:
        return None
    return TaskRequest(options.task_id, options.task_budget_tokens, options.task_budget_usd)


def _call_ttft(call: CallRecord) -> float | None:
    served = call.served
    if served is None or served.ttft_s is None:
        return None
    return served.started_at + served.ttft_s - call.started_at
