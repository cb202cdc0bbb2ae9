"""Fake OpenAI, Anthropic and Gemini upstreams for tests (see README.md)."""

from tests.fakes.anthropic_fake import AnthropicFake
from tests.fakes.faults import (
    AcceptThenSilent,
    BadGateway,
    ConnectionReset,
    ContentPolicy,
    ContextLengthExceeded,
    CutAfter,
    EndlessEvent,
    Fault,
    HttpFault,
    IgnoresStream,
    InvalidEvent,
    MalformedBody,
    MissingSentinel,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    RawResponse,
    Refusal,
    ServerError,
    ServiceUnavailable,
    SlowFirstToken,
    StallAfter,
    StreamErrorEvent,
    StreamFault,
    TransportFault,
)
from tests.fakes.gemini_fake import GeminiFake
from tests.fakes.harness import FakeUpstream
from tests.fakes.openai_fake import OpenAIFake
from tests.fakes.ports import closed_port
from tests.fakes.recording import RecordedRequest
from tests.fakes.reply import REFUSAL_TEXT, count_tokens

__all__ = [
    "REFUSAL_TEXT",
    "AcceptThenSilent",
    "AnthropicFake",
    "BadGateway",
    "ConnectionReset",
    "ContentPolicy",
    "ContextLengthExceeded",
    "CutAfter",
    "EndlessEvent",
    "FakeUpstream",
    "Fault",
    "GeminiFake",
    "HttpFault",
    "IgnoresStream",
    "InvalidEvent",
    "MalformedBody",
    "MissingSentinel",
    "OpenAIFake",
    "Overloaded",
    "QuotaExhausted",
    "RateLimited",
    "RawResponse",
    "RecordedRequest",
    "Refusal",
    "ServerError",
    "ServiceUnavailable",
    "SlowFirstToken",
    "StallAfter",
    "StreamErrorEvent",
    "StreamFault",
    "TransportFault",
    "closed_port",
    "count_tokens",
]
