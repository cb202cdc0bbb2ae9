"""An Anthropic Messages client whose prompt is over the serving model's context window.

Anthropic reports it as a 400 `invalid_request_error` reading "prompt is too long: N
tokens > M maximum", and agents read that wording to compact the conversation and try
again (Claude Code does). Served by an OpenAI or Gemini model, or refused by the
gateway's own context guard, the client gets the same words, with the numbers the
gateway has and the vendor's or the guard's own message after them."""

from __future__ import annotations

import re
from typing import Any

import anthropic
import pytest

from tests.e2e.conftest import MODELS, Stack, StackFactory
from tests.fakes import ContextLengthExceeded

ANTHROPIC_WORDING = re.compile(r"^prompt is too long: (\d+) tokens > (\d+) maximum \((.+)\)$")


def overflow_message(stack: Stack, **kwargs: Any) -> str:
    with pytest.raises(anthropic.BadRequestError) as caught:
        if kwargs.pop("stream", False):
            with stack.anthropic().messages.stream(**kwargs) as stream:
                stream.get_final_message()
        else:
            stack.anthropic().messages.create(**kwargs)
    error = caught.value.body["error"]
    assert error["type"] == "invalid_request_error"
    message: str = error["message"]
    return message


@pytest.mark.parametrize("profile", ["oa", "ge"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_vendors_context_overflow_reads_as_anthropics(
    stack: Stack, profile: str, stream: bool
) -> None:
    stack.fake(profile).enqueue(ContextLengthExceeded(limit=2))
    message = overflow_message(
        stack,
        model=profile,
        max_tokens=50,
        messages=[{"role": "user", "content": "a b c d"}],
        stream=stream,
    )
    worded = ANTHROPIC_WORDING.match(message)
    assert worded is not None, message
    tokens, limit = int(worded.group(1)), int(worded.group(2))
    # The gateway's estimate of a tiny prompt is below the model's context, but the vendor
    # refused it: the count stated is never one that would have fitted.
    assert tokens > limit
    assert f"({MODELS[profile]}): " in worded.group(3)  # the vendor's own message follows


def test_the_gateways_own_context_refusal_reads_as_anthropics(make_stack: StackFactory) -> None:
    def small(document: dict[str, Any]) -> None:
        for profile in document["routing"]["profiles"].values():
            profile["max_context"] = 50

    stack = make_stack(edit=small)
    message = overflow_message(
        stack,
        model="oa",
        max_tokens=10,
        messages=[{"role": "user", "content": "word " * 400}],
        extra_headers={"x-switchpoint-context-strategy": "reject"},
    )
    worded = ANTHROPIC_WORDING.match(message)
    assert worded is not None, message
    assert int(worded.group(1)) > int(worded.group(2)) == 50
    assert "context strategy is 'reject'" in worded.group(3)
