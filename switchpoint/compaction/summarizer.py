"""The summarizer: a call to the summarizer profile through the gateway's own executor.

Each summary is one non-streamed request (the prompt as a single user message, at most
`max_tokens` of answer) tried on the summarizer profile and its fallback chain with the
usual breakers, retries and backoff, within the client call's deadline. Its attempts are
attempts of the client's call (reason `summarize`), so the ledger, budgets and metrics
account for what summaries cost.

Chunks are sized for the summarizer profile's context; a fallback with a smaller one is
tried only for the prompts it holds, answer included. Only a whole answer is a summary:
one cut at its output limit (or stopped for any reason but its end) is a failure, never a
shortened summary passed off as complete.
"""

from __future__ import annotations

import asyncio

from switchpoint.chat.content import Message, Text
from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.usage import tokens_from_chars
from switchpoint.compaction.measure import ContextMeter
from switchpoint.context.summarizer import SummarizerFailed, SummaryTruncated
from switchpoint.execution.executor import Executor
from switchpoint.execution.records import SUMMARIZE, AttemptRecord, CallRecord
from switchpoint.execution.targets import Target
from switchpoint.providers.limits import AttemptLimits

# The answer cap a summary asked for in at most N tokens is sent with, where the model
# takes it: a reasoning model's thinking counts against the same cap (OpenAI's
# `max_completion_tokens`), and a model may run past the length it is asked for. Without
# the room, a summary cut at N would be a failure however good its text. What the
# summaries take is measured afterwards and reduced if over the room planned.
_OVERSHOOT_FACTOR = 2
_THINKING_ROOM_TOKENS = 4096


def answer_cap(max_tokens: int) -> int:
    return max_tokens * _OVERSHOOT_FACTOR + _THINKING_ROOM_TOKENS


# The summarizer's request is built from the internal shape: no client protocol.
_PROTOCOL = "switchpoint_summary"
# Stop reasons of a whole answer.
_COMPLETE = frozenset({"end_turn", "stop_sequence"})
_CUT = frozenset({"max_tokens", "context_window_exceeded"})


class ExecutorSummarizer:
    def __init__(
        self, executor: Executor, call: CallRecord, targets: list[Target], meter: ContextMeter
    ) -> None:
        self.executor = executor
        self.call = call
        self.targets = targets
        self.meter = meter

    def _holding(self, conversation: Conversation, max_tokens: int) -> dict[str, int]:
        """The answer cap each target that takes the prompt is sent (by profile): the
        generous one where it fits, the length asked for where only that does."""
        generous = answer_cap(max_tokens)
        caps: dict[str, int] = {}
        for target in self.targets:
            for cap in (generous, max_tokens):
                if self.meter.holds(conversation, target.profile, cap):
                    caps[target.profile.name] = cap
                    break
        return caps

    async def summarize(self, prompt: str, max_tokens: int) -> str:
        messages = [Message("user", [Text(prompt)])]
        # Counting a chunk of up to 100K tokens: off the event loop.
        caps = await asyncio.to_thread(
            self._holding, Conversation(messages=messages, max_tokens=max_tokens), max_tokens
        )
        targets = [t for t in self.targets if t.profile.name in caps]
        if not targets:
            names = ", ".join(t.profile.name for t in self.targets) or "none"
            raise SummarizerFailed(
                f"no summarizer model ({names}) can take this chunk with {max_tokens} tokens "
                "of answer"
            )

        def cap(target: Target) -> int:
            # A model the executor moves to after a context-length error (a larger one,
            # never measured for this chunk) is sent the length asked for.
            return caps.get(target.profile.name, max_tokens)

        async def attempt_fn(
            target: Target, attempt: AttemptRecord, limits: AttemptLimits
        ) -> ChatResponse:
            conversation = Conversation(messages=messages, max_tokens=cap(target))
            request = ChatRequest(_PROTOCOL, {}, stream=False, conversation=conversation)
            return await target.adapter.complete(request, target.model, limits)

        executor = self.executor
        response, target, attempt, limits = await executor.run_attempts(
            self.call,
            attempt_fn,
            targets=targets,
            reason=SUMMARIZE,
            # Billed for its own prompt if it ends before its usage report: estimated,
            # as counting a chunk of up to the summarizer's context exactly would cost
            # more than the estimate is worth.
            prompt_tokens=tokens_from_chars(len(prompt)),
        )
        attempt.usage = response.usage
        executor.end_attempt(self.call, target, attempt, limits=limits)
        if response.stop_reason in _CUT:
            raise SummaryTruncated(
                f"{target.model}'s summary was cut at its {cap(target)}-token limit "
                f"(asked for at most {max_tokens})"
            )
        if response.stop_reason not in _COMPLETE:
            raise SummarizerFailed(
                f"{target.model} stopped with {response.stop_reason}: not a whole summary"
            )
        # A refusal's text says why the model refused: it summarizes nothing.
        return "".join(b.text for b in response.content if isinstance(b, Text) and not b.refusal)
