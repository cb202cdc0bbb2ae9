"""A client's own prefill served by a model that does not continue it.

An Anthropic client may end its conversation with an assistant turn (`{`, say): the
answer continues that text, and the client appends it. OpenAI's APIs answer such a turn
anew instead, and the answer usually starts over with the prefill, which the client
would then hold twice (`{{"a": 1}`). For those targets the repeat is cut from the front
of the answer, as a resumed stream's is (`Join`); an answer that does not repeat it is
passed as it came.
"""

from __future__ import annotations

import dataclasses

from switchpoint.chat.content import Text
from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.execution.breaker import Key
from switchpoint.execution.continuation import Join
from switchpoint.execution.prefill import PrefillSupport


def prefill_join(request: ChatRequest, prefill: PrefillSupport, target: Key) -> Join | None:
    """The `Join` for the answer to `request` from `target`, if its client's prefill
    needs one (the client continues its turn, the target does not)."""
    # Most clients' protocols have no prefill: one attribute read, and done.
    if not request.continues_prefill or prefill.supports(*target):
        return None
    prefix = request.prefill()
    return Join(prefix, prefix.rstrip()) if prefix else None


def strip_repeated_prefill(response: ChatResponse, join: Join) -> None:
    """A whole answer: its first text loses the prefill's repeat."""
    for index, block in enumerate(response.content):
        if isinstance(block, Text):
            text = join.feed(block.text) + join.flush()
            response.content[index] = dataclasses.replace(block, text=text)
            response.raw = None  # what the vendor sent is no longer the answer
            return
