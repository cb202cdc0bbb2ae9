"""Joining a continuation onto the text a client already has."""

from __future__ import annotations

import pytest

from switchpoint.chat.content import Message, Text
from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.execution.continuation import Join, continuation_request

SENT = "The quick brown fox jumps over the lazy dog, then rests by the "
REST = "river bank while the sun sets."


def join(sent: str, pieces: list[str]) -> str:
    prefill = sent.rstrip()
    joiner = Join(sent, prefill)
    out = "".join(joiner.feed(piece) for piece in pieces)
    return out + joiner.flush()


def chunks(text: str, size: int = 5) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize(
    "continuation",
    [
        REST,  # a plain continuation
        " " + REST,  # re-emits the space the prefill had to drop
        SENT + REST,  # starts the answer over
        SENT.rstrip() + " " + REST,  # starts over from the prefill
        "lazy dog, then rests by the " + REST,  # repeats its last words
    ],
)
def test_the_client_gets_exactly_the_rest(continuation: str) -> None:
    assert join(SENT, chunks(continuation)) == REST
    assert join(SENT, [continuation]) == REST


def test_short_coincidences_are_not_taken_for_repeats() -> None:
    sent = "I like the"
    assert join(sent, [" the color"]) == " the color"
    assert join("It is what it is", [", is it not?"]) == ", is it not?"


def test_a_short_continuation_is_released_when_it_ends() -> None:
    joiner = Join(SENT, SENT.rstrip())
    assert joiner.feed("end.") == ""
    assert joiner.flush() == "end."
    assert joiner.feed(" more") == " more"  # decided: passes through


def test_nothing_sent_passes_everything() -> None:
    assert join("", ["Hello", " world"]) == "Hello world"


def _request(messages: list[Message], max_tokens: int | None = 100) -> ChatRequest:
    conversation = Conversation(messages=messages, max_tokens=max_tokens)
    return ChatRequest("openai_chat", {}, stream=True, conversation=conversation)


def test_continuation_request_appends_the_sent_text_without_trailing_space() -> None:
    original = _request([Message("user", [Text("hi")])])
    request, full, prefill = continuation_request(original, "Hello there ", 30)
    messages = request.conversation().messages
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[-1].text() == "Hello there" == prefill
    assert full == "Hello there "
    assert request.conversation().max_tokens == 70
    assert not request.native
    assert len(original.conversation().messages) == 1  # the original is untouched


def test_continuation_request_extends_the_clients_own_prefill() -> None:
    original = _request([Message("user", [Text("hi")]), Message("assistant", [Text("{")])])
    request, full, prefill = continuation_request(original, '"a": 1', 0)
    messages = request.conversation().messages
    assert len(messages) == 2 and messages[-1].text() == '{"a": 1' == full == prefill
