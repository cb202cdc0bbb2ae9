"""Resuming a stream that was cut after the client received part of the answer.

The request is sent again with a trailing assistant message holding exactly the text
already sent (after the client's own trailing assistant text, if it sent one); a model
that supports prefill continues from there. Its output is joined on with `Join`, which
guards against the ways a continuation overlaps what was sent: whitespace the prefill
had to drop (Anthropic refuses a prefill ending in whitespace), a model that starts the
answer over, and one that repeats the last words.
"""

from __future__ import annotations

import dataclasses

from switchpoint.chat.content import Message, Text
from switchpoint.chat.request import ChatRequest

# A continuation is held back until this many characters have arrived (or it ends),
# so that a repeat of the last words can be recognised; a few tokens, once per cut.
HOLD_CHARS = 64
# A repeat of the sent text's end shorter than this is taken as genuine text.
MIN_OVERLAP_CHARS = 12
# Only this much of the sent text's end is searched for a repeat.
MAX_OVERLAP_CHARS = 512


def continuation_request(
    request: ChatRequest, sent_text: str, output_tokens_used: int
) -> tuple[ChatRequest, str, str]:
    """(the continuation request, the full prefix the model continues, the prefill
    actually sent). With nothing sent yet, the original conversation is asked again."""
    conversation = request.conversation()
    messages = list(conversation.messages)
    client_prefix = ""
    if messages and messages[-1].role == "assistant":
        client_prefix = messages[-1].text()
    full = client_prefix + sent_text
    prefill = full.rstrip()
    if prefill:
        if client_prefix:
            last = messages[-1]
            kept = [block for block in last.content if not isinstance(block, Text)]
            messages[-1] = Message("assistant", [*kept, Text(prefill)], keep=last.keep)
        else:
            messages.append(Message("assistant", [Text(prefill)]))
    max_tokens = conversation.max_tokens
    if max_tokens is not None:
        max_tokens = max(1, max_tokens - output_tokens_used)
    replaced = dataclasses.replace(conversation, messages=messages, max_tokens=max_tokens)
    return request.replaced(replaced), full, prefill


class Join:
    """Turns a continuation's text into what the client has not seen yet."""

    __slots__ = ("_buffer", "_decided", "_prefill", "_sent", "_trailing")

    def __init__(self, sent: str, prefill: str) -> None:
        self._sent = sent
        self._prefill = prefill
        # Whitespace the client has but the prefill lacked: the model may send it again.
        self._trailing = sent[len(prefill) :] if sent.startswith(prefill) else ""
        self._buffer = ""
        self._decided = False

    def feed(self, text: str) -> str:
        """The part of `text` to send now (possibly empty while deciding)."""
        if self._decided:
            return text
        self._buffer += text
        buffer = self._buffer
        sent = self._sent
        if len(buffer) < len(sent) and (
            sent.startswith(buffer) or self._prefill.startswith(buffer)
        ):
            return ""  # may be the whole answer starting over
        if len(buffer) < min(HOLD_CHARS, len(sent)):
            return ""  # may be a repeat of the last words
        return self._decide()

    def flush(self) -> str:
        """The continuation ended (or moved on to a tool call): decide with what came."""
        if self._decided:
            return ""
        return self._decide()

    def _decide(self) -> str:
        self._decided = True
        buffer, self._buffer = self._buffer, ""
        sent, prefill = self._sent, self._prefill
        if sent and buffer.startswith(sent):
            return buffer[len(sent) :]
        if prefill and buffer.startswith(prefill):
            return self._skip_trailing(buffer[len(prefill) :])
        overlap = _overlap(sent, buffer)
        if overlap:
            return buffer[overlap:]
        return self._skip_trailing(buffer)

    def _skip_trailing(self, text: str) -> str:
        i = 0
        limit = min(len(text), len(self._trailing))
        while i < limit and text[i].isspace():
            i += 1
        return text[i:]


def _overlap(sent: str, text: str) -> int:
    """The length of the longest start of `text` that repeats the end of `sent`, if it
    is long enough and starts at a word boundary to be a repeat rather than text."""
    longest = min(len(sent), len(text), MAX_OVERLAP_CHARS)
    for size in range(longest, MIN_OVERLAP_CHARS - 1, -1):
        if not sent.endswith(text[:size]):
            continue
        before = sent[-size - 1] if size < len(sent) else " "
        if not before.isalnum() or not text[0].isalnum():
            return size
    return 0
