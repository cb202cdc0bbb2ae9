"""The summarizer the compression calls, and the typed ways compression fails.

The executor implements `Summarizer` by sending the prompt through the gateway's own
routing to `routing.context.summarizer_profile`. Whatever goes wrong there surfaces as
a `CompressionError`; compression never hands back a partial or truncated conversation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from switchpoint.context.plan import CompressionPlan


class Summarizer(Protocol):
    async def summarize(self, prompt: str, max_tokens: int) -> str:
        """The model's answer to `prompt`, in at most about `max_tokens` tokens."""
        ...


class CompressionError(Exception):
    """Compression could not produce a conversation that fits."""


class NotCompressible(CompressionError):
    """The plan says there is nothing to gain (see `CompressionPlan.reason`)."""

    def __init__(self, plan: CompressionPlan) -> None:
        super().__init__(f"conversation not compressible: {plan.reason}")
        self.plan = plan


class SummarizerFailed(CompressionError):
    """The summarizer raised, timed out or answered nothing usable."""


class SummarizerTimeout(SummarizerFailed):
    pass


class SummaryEmpty(SummarizerFailed):
    pass


class SummaryTruncated(SummarizerFailed):
    """The summarizer's answer was cut (at its output limit): not a whole summary."""


class CompressionDidNotConverge(CompressionError):
    """Summaries of summaries stayed larger than the room for them."""
