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
    stream; a stream that ends normally always ends with `Finish`.
    """

    type: ClassVar[str]

    def __init__(self, name: str, config: ProviderConfig, models: dict[str, ModelConfig]) -> None:
        self.name = name
        self.config = config
        self.models = models
        self.unavailable_reason: str | None = None

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def model_config(self, model: str) -> ModelConfig | None:
        return self.models.get(model)

    @abc.abstractmethod
    async def complete(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> ChatResponse: ...

    @abc.abstractmethod
    def stream(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and background work."""
