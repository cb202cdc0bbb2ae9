"""What a call is expected to consume, before it is made: the reservation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchpoint.chat.usage import Usage
from switchpoint.config.schema import ModelConfig
from switchpoint.pricing import PriceTable

# Where each client protocol puts its output limit (OpenAI, Anthropic, Responses-style).
_MAX_OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def requested_max_output(body: dict[str, Any]) -> int | None:
    """The output limit the client set, if any (Gemini keeps it in generationConfig)."""
    for name in _MAX_OUTPUT_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    generation = body.get("generationConfig")
    if isinstance(generation, dict):
        value = generation.get("maxOutputTokens")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Estimate:
    tokens: int
    # 0.0 when the model's price is unknown: such calls cannot be held to a USD budget.
    usd: float


class CostEstimator:
    def __init__(self, models: dict[str, ModelConfig], reserve_output_tokens: int) -> None:
        self.prices = PriceTable(models)
        self._models = models
        self.reserve_output_tokens = reserve_output_tokens

    def estimate(self, model: str, context_tokens: int, max_output: int | None) -> Estimate:
        output = max_output if max_output is not None else self.reserve_output_tokens
        config = self._models.get(model)
        # What the model can be asked for: a larger maximum is capped to its limit before
        # it is sent (the providers' `output_cap`). `max_output_tokens` is only a default
        # for requests without a maximum, not a bound on those that set one.
        if config is not None and config.output_limit_tokens is not None:
            output = min(output, config.output_limit_tokens)
        usd = self.prices.cost_usd(model, Usage(input_tokens=context_tokens, output_tokens=output))
        return Estimate(context_tokens + output, usd or 0.0)
