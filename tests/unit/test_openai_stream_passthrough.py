"""OpenAI stream fields the internal events carry for an OpenAI client only: the stream's
`system_fingerprint` and `service_tier` (once, on `MessageStart`), and, for a request
that asked for them, choice 0's `logprobs` (a `VendorPart` just before the text of the
chunk that had them). Other encoders ignore them; streams that did not ask never see them."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.chat.content import Text, Thinking
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    UsageUpdate,
    VendorPart,
)
from switchpoint.chat.usage import Usage
from switchpoint.protocols.anthropic.stream import StreamEncoder as AnthropicEncoder
from switchpoint.protocols.openai import PROTOCOL
from switchpoint.protocols.openai.request import decode_request
from switchpoint.protocols.openai.response import decode_response
from switchpoint.protocols.openai.stream import (
    LogprobsStreamDecoder,
    LogprobsStreamEncoder,
    StreamDecoder,
    StreamEncoder,
)
from switchpoint.protocols.openai_responses.stream import StreamEncoder as ResponsesEncoder
from switchpoint.transport.sse import SSEEvent

FINGERPRINT = "fp_abc123"
LOGPROBS: dict[str, Any] = {
    "content": [
        {"token": "Hel", "logprob": -0.25, "bytes": [72, 101, 108], "top_logprobs": []},
        {"token": "lo", "logprob": -0.5, "bytes": [108, 111], "top_logprobs": []},
    ],
    "refusal": None,
}


def _chunk(choice: dict[str, Any], **extra: Any) -> SSEEvent:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-x",
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "finish_reason": None, "logprobs": None, **choice}],
        **extra,
    }
    return SSEEvent(None, orjson.dumps(body))


def _decode(*chunks: SSEEvent, logprobs: bool = True) -> list[StreamEvent]:
    decoder = LogprobsStreamDecoder() if logprobs else StreamDecoder()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events += decoder.decode(chunk)
    return events + decoder.decode(SSEEvent(None, b"[DONE]"))


# --- decoder -----------------------------------------------------------------------


def test_the_constant_fields_are_read_once_onto_message_start() -> None:
    events = _decode(
        _chunk({"delta": {"role": "assistant", "content": ""}}),
        _chunk({"delta": {"content": "Hi"}}, system_fingerprint="fp_other"),
        _chunk({"delta": {}, "finish_reason": "stop"}),
    )
    assert events == [
        MessageStart("chatcmpl-1", "gpt-x", FINGERPRINT, "default"),
        TextDelta("Hi"),
        Finish("end_turn"),
    ]


def test_missing_or_malformed_constant_fields_are_none() -> None:
    body = {"id": "c", "model": "m", "system_fingerprint": 7, "choices": []}
    [start] = StreamDecoder().decode(SSEEvent(None, orjson.dumps(body)))
    assert start == MessageStart("c", "m")
    assert start.system_fingerprint is None and start.service_tier is None


def logprobs(part: dict[str, Any]) -> VendorPart:
    return VendorPart(PROTOCOL, "delta", part)


def test_logprobs_go_just_before_the_text_of_their_chunk() -> None:
    chunks = (
        _chunk({"delta": {"role": "assistant", "content": ""}}),
        _chunk({"delta": {"content": "Hello"}, "logprobs": LOGPROBS}),
        _chunk({"delta": {"content": "!"}}),
        _chunk({"delta": {}, "finish_reason": "stop"}),
    )
    events = _decode(*chunks)
    assert events[1:] == [
        logprobs(LOGPROBS),
        TextDelta("Hello"),
        TextDelta("!"),
        Finish("end_turn"),
    ]
    # A request that did not ask takes the plain decoder: nothing but the text.
    assert _decode(*chunks, logprobs=False)[1:] == [
        TextDelta("Hello"),
        TextDelta("!"),
        Finish("end_turn"),
    ]


def test_logprobs_without_text_or_of_the_wrong_shape_are_dropped() -> None:
    events = _decode(
        # The role chunk's empty content: nothing to carry them.
        _chunk({"delta": {"role": "assistant", "content": ""}, "logprobs": LOGPROBS}),
        _chunk({"delta": {"content": "a"}, "logprobs": [1, 2]}),
        _chunk({"delta": {"content": "b"}, "logprobs": "x"}),
    )
    assert events[1:] == [TextDelta("a"), TextDelta("b"), Finish("end_turn")]


def test_only_choice_zero_has_its_logprobs_kept() -> None:
    body = {
        "id": "c",
        "model": "m",
        "choices": [
            {"index": 1, "delta": {"content": "other"}, "logprobs": LOGPROBS},
            {"index": 0, "delta": {"content": "mine"}, "logprobs": None},
        ],
    }
    events = LogprobsStreamDecoder().decode(SSEEvent(None, orjson.dumps(body)))
    assert events[1:] == [TextDelta("mine")]


def test_a_refusals_logprobs_go_with_its_text() -> None:
    refusal = {"content": None, "refusal": LOGPROBS["content"]}
    events = _decode(_chunk({"delta": {"refusal": "No."}, "logprobs": refusal}))
    assert events[1:3] == [logprobs(refusal), RefusalDelta("No.")]
    assert events[-1] == Finish("content_filter")


def test_vllms_reasoning_field_is_reasoning_too() -> None:
    """vLLM renamed DeepSeek's `reasoning_content` to `reasoning` (2025) and then removed
    the old name: read as anything else, a model thinking for longer than the first-token
    limit looked silent (reasoning is progress) and was cut."""
    events = _decode(
        _chunk({"delta": {"role": "assistant", "reasoning": "Let me"}}),
        _chunk({"delta": {"reasoning": " think", "content": None}}),
        _chunk({"delta": {"reasoning": {"not": "text"}, "content": "Sunny."}}),
        logprobs=False,
    )
    assert events[1:] == [
        ThinkingDelta("Let me"),
        ThinkingDelta(" think"),
        TextDelta("Sunny."),
        Finish("end_turn"),
    ]
    message = {"role": "assistant", "reasoning": "Let me think", "content": "Sunny."}
    body = {"id": "c", "model": "m", "choices": [{"index": 0, "message": message}]}
    whole = decode_response(orjson.dumps(body))
    assert whole.content == [Thinking("Let me think"), Text("Sunny.")]
    # And in the history a client sends back (vLLM's interleaved thinking).
    history = decode_request({"messages": [{"role": "user", "content": "?"}, message]})
    assert history.messages[1].content == [Thinking("Let me think"), Text("Sunny.")]


# --- OpenAI encoder -----------------------------------------------------------------


def test_a_refusal_is_encoded_in_its_own_field_and_ends_with_stop() -> None:
    encoder = StreamEncoder(include_usage=False, fallback_id="fallback")
    wire = b"".join(
        encoder.encode(e)
        for e in [MessageStart("c", "m"), RefusalDelta("No."), Finish("content_filter")]
    )
    _, refused, finish = _payloads(wire)
    assert refused["choices"][0]["delta"] == {"refusal": "No."}
    assert finish["choices"][0]["finish_reason"] == "stop"
    # A content filter without a refusal is still one.
    encoder = StreamEncoder(include_usage=False, fallback_id="fallback")
    wire = b"".join(
        encoder.encode(e)
        for e in [MessageStart("c", "m"), TextDelta("x"), Finish("content_filter")]
    )
    assert _payloads(wire)[-1]["choices"][0]["finish_reason"] == "content_filter"


def test_a_refusal_keeps_its_logprobs() -> None:
    refusal = {"content": None, "refusal": LOGPROBS["content"]}
    chunks = _payloads(
        _encode(
            [
                MessageStart("c", "m"),
                logprobs(refusal),
                RefusalDelta("No."),
                Finish("content_filter"),
            ]
        )
    )
    choice = chunks[1]["choices"][0]
    assert choice["delta"] == {"refusal": "No."} and choice["logprobs"] == refusal


def _payloads(raw: bytes) -> list[dict[str, Any]]:
    frames = [f for f in raw.split(b"\n\n") if f]
    assert frames[-1] == b"data: [DONE]"
    return [orjson.loads(f.removeprefix(b"data: ")) for f in frames[:-1]]


def _encode(events: list[StreamEvent], *, include_usage: bool = True) -> bytes:
    encoder = LogprobsStreamEncoder(include_usage=include_usage, fallback_id="fallback")
    return b"".join(encoder.encode(e) for e in events)


STREAM: list[StreamEvent] = [
    MessageStart("chatcmpl-1", "gpt-x", FINGERPRINT, "default"),
    logprobs(LOGPROBS),
    TextDelta("Hello"),
    TextDelta("!"),
    UsageUpdate(Usage(input_tokens=3, output_tokens=2)),
    Finish("end_turn"),
]


def test_every_chunk_carries_the_constant_fields() -> None:
    payloads = _payloads(_encode(STREAM))
    assert len(payloads) == 5  # role, two texts, finish, usage
    for payload in payloads:
        assert payload["system_fingerprint"] == FINGERPRINT
        assert payload["service_tier"] == "default"
        # In OpenAI's order: after `model`, before `choices`.
        keys = list(payload)
        assert keys.index("model") < keys.index("service_tier") < keys.index("choices")
        assert keys.index("service_tier") < keys.index("system_fingerprint")


def test_logprobs_ride_on_their_texts_chunk_only() -> None:
    role, hello, bang, finish, usage = _payloads(_encode(STREAM))
    assert hello["choices"] == [
        {
            "index": 0,
            "delta": {"content": "Hello"},
            "logprobs": LOGPROBS,
            "finish_reason": None,
        }
    ]
    assert bang["choices"][0] == {
        "index": 0,
        "delta": {"content": "!"},
        "logprobs": None,
        "finish_reason": None,
    }
    assert role["choices"][0]["logprobs"] is None
    assert finish["choices"][0]["logprobs"] is None
    assert usage["choices"] == [] and usage["usage"]["prompt_tokens"] == 3


def test_a_stream_without_the_new_fields_renders_as_before() -> None:
    encoder = StreamEncoder(include_usage=False, fallback_id="fallback")
    encoder.encode(MessageStart("chatcmpl-1", "gpt-x"))
    created = orjson.loads(encoder.encode(TextDelta("a"))[6:])["created"]
    assert encoder.encode(TextDelta("Hi")) == (
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":'
        + str(created).encode()
        + b',"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hi"},'
        b'"logprobs":null,"finish_reason":null}]}\n\n'
    )
    payloads = _payloads(_encode([MessageStart("c", "m"), TextDelta("x"), Finish("end_turn")]))
    assert all("system_fingerprint" not in p and "service_tier" not in p for p in payloads)


# --- other protocols ignore them -----------------------------------------------------


def _plain(events: list[StreamEvent]) -> list[StreamEvent]:
    """The same stream without the OpenAI-only fields."""
    out: list[StreamEvent] = []
    for event in events:
        if type(event) is MessageStart:
            out.append(MessageStart(event.id, event.model))
        elif type(event) is not VendorPart:
            out.append(event)
    return out


def test_the_anthropic_encoder_ignores_them() -> None:
    rich = AnthropicEncoder(fallback_id="msg_x")
    plain = AnthropicEncoder(fallback_id="msg_x")
    assert b"".join(map(rich.encode, STREAM)) == b"".join(map(plain.encode, _plain(STREAM)))


def test_the_responses_encoder_ignores_them() -> None:
    rich = ResponsesEncoder("rq", {})
    plain = ResponsesEncoder("rq", {})
    rendered = b"".join(map(rich.encode, STREAM))
    assert rendered == b"".join(map(plain.encode, _plain(STREAM)))
    assert b"fp_abc123" not in rendered and b'"logprob"' not in rendered


def test_the_plain_openai_encoder_ignores_logprobs_it_was_not_asked_for() -> None:
    rich = StreamEncoder(include_usage=True, fallback_id="f")
    plain = StreamEncoder(include_usage=True, fallback_id="f")
    assert b"".join(map(rich.encode, STREAM)) == b"".join(
        map(plain.encode, [e for e in STREAM if type(e) is not VendorPart])
    )


def test_openais_own_delta_fields_are_not_taken_for_logprobs() -> None:
    own = VendorPart(PROTOCOL, "start", {"delta": {"audio": {"data": "UklGRg=="}}})
    chunks = _payloads(_encode([MessageStart("c", "m"), own, Finish("end_turn")]))
    assert chunks[1]["choices"][0]["delta"] == {"audio": {"data": "UklGRg=="}}
    assert chunks[1]["choices"][0]["logprobs"] is None
