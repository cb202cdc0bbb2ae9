"""The one interface every provider adapter implements."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import ClassVar

from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import StreamEvent
from switchpoint.config.schema import ModelConfig, ProviderConfig
from switchpoint.providers.limits import AttemptLimits


class ProviderAdapter(abc.ABC):
    """Sends one attempt to one vendor and translates the answer.

    `complete` returns a `ChatResponse` or raises `ProviderError`. `stream` yields internal
    stream events and raises `ProviderError` when the attempt fails, before or during the
    stream; a stream that ends normally always ends with `Finish`. `stream_batches` is the
    same stream in the lists of events that arrived together (one upstream read): what the
    gateway relays, so that per-event costs are paid once per read, not once per event.
    """

    type: ClassVar[str]

    def __init__(self, name: str, config: ProviderConfig, models: dict[str, ModelConfig]) -> None:
        self.name = name
        self.config = config
        self.models = models
        self.unavailable_reason: str | None = None
        # Only the models with a hard output limit: the common case costs one failed
        # dict lookup per attempt (`output_limit`).
        self.output_limits: dict[str, int] = {
            name: config.output_limit_tokens
            for name, config in models.items()
            if config.output_limit_tokens is not None
        }

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def model_config(self, model: str) -> ModelConfig | None:
        return self.models.get(model)

    def output_limit(self, model: str) -> int | None:
        """The most `model` writes in one answer (`output_limit_tokens`), if configured."""
        return self.output_limits.get(model)

    @staticmethod
    def note_capped(limits: AttemptLimits | None, limit: int) -> None:
        """Record on the attempt that its output maximum was capped to `limit`."""
        if limits is not None:
            limits.stats.output_capped = limit

    @staticmethod
    def note_dropped(limits: AttemptLimits | None, dropped: tuple[str, ...]) -> None:
        """Record on the attempt the sampling settings left out of its body."""
        if limits is not None and dropped:
            limits.stats.dropped_params = dropped

    @abc.abstractmethod
    async def complete(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> ChatResponse: ...

    @abc.abstractmethod
    def stream(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[StreamEvent]: ...

    async def stream_batches(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[list[StreamEvent]]:
        """`stream`, one event per batch; adapters that read in batches override this."""
        events = self.stream(request, model, limits)
        try:
            async for event in events:
                yield [event]
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and background work."""
