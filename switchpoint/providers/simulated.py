"""A provider that answers without any network: the offline demo's stand-in for a vendor.

It behaves like a real one where the gateway can tell: latency, streamed chunks, token
usage, and failures (a configurable error rate, or a full outage switched on at run
time) that surface as the same `ProviderError`s a vendor's 503 would.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

from switchpoint.chat.content import Text
from switchpoint.chat.request import ChatRequest
from switchpoint.chat.response import ChatResponse
from switchpoint.chat.stream import Finish, MessageStart, StreamEvent, TextDelta, UsageUpdate
from switchpoint.chat.usage import Usage
from switchpoint.config.schema import ModelConfig, ProviderConfig, SimulationConfig
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits

_WORDS = [
    "the",
    "gateway",
    "routed",
    "this",
    "request",
    "to",
    "the",
    "model",
    "best",
    "suited",
    "for",
    "its",
    "workload",
    "and",
    "the",
    "answer",
    "streams",
    "back",
    "token",
    "by",
    "token",
    "while",
    "the",
    "ledger",
    "records",
    "what",
    "it",
    "cost",
]


class SimulatedAdapter(ProviderAdapter):
    type = "simulated"

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        models: dict[str, ModelConfig],
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__(name, config, models)
        simulation = config.simulation or SimulationConfig()
        self.latency_s = simulation.latency_ms / 1000.0
        self.error_rate = simulation.error_rate
        self.chunk_delay_s = simulation.chunk_delay_ms / 1000.0
        self.output_tokens = simulation.output_tokens
        # A full outage, switched on and off at run time (the demo does).
        self.down = False
        self._random = random.Random(seed)

    def _fail_maybe(self) -> None:
        if self.down:
            raise ProviderError("overloaded", f"{self.name} is down (simulated outage)", status=503)
        if self.error_rate and self._random.random() < self.error_rate:
            raise ProviderError("server_error", f"{self.name} failed (simulated error)", status=500)

    def _answer(self, request: ChatRequest) -> tuple[str, int]:
        conversation = request.conversation()
        prompt_chars = sum(len(m.text()) for m in conversation.messages)
        prompt_chars += len(conversation.system_text())
        words = [_WORDS[i % len(_WORDS)] for i in range(self.output_tokens)]
        return " ".join(words).capitalize() + ".", max(1, prompt_chars // 4)

    async def complete(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> ChatResponse:
        limits.stats.request_sent = True  # the simulated vendor has it at once
        await asyncio.sleep(self.latency_s * (0.5 + self._random.random()))
        self._fail_maybe()
        text, input_tokens = self._answer(request)
        return ChatResponse(
            id=f"sim-{uuid.uuid4().hex[:24]}",
            model=model,
            content=[Text(text)],
            stop_reason="end_turn",
            usage=Usage(input_tokens=input_tokens, output_tokens=self.output_tokens),
        )

    async def stream(
        self, request: ChatRequest, model: str, limits: AttemptLimits
    ) -> AsyncIterator[StreamEvent]:
        limits.stats.request_sent = True
        await asyncio.sleep(self.latency_s * (0.5 + self._random.random()))
        self._fail_maybe()
        text, input_tokens = self._answer(request)
        yield MessageStart(f"sim-{uuid.uuid4().hex[:24]}", model)
        words = text.split(" ")
        for i, word in enumerate(words):
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            yield TextDelta(word if i == 0 else " " + word)
        yield UsageUpdate(Usage(input_tokens=input_tokens, output_tokens=self.output_tokens))
        yield Finish("end_turn")
