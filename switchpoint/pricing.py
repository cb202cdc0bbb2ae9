"""What a call cost, from the `models:` price table (USD per million tokens)."""

from __future__ import annotations

from switchpoint.chat.usage import Usage
from switchpoint.config.schema import ModelConfig


class PriceTable:
    def __init__(self, models: dict[str, ModelConfig]) -> None:
        self._models = models

    def known(self, model: str) -> bool:
        config = self._models.get(model)
        return (
            config is not None
            and config.input_usd_per_mtok is not None
            and config.output_usd_per_mtok is not None
        )

    def cost_usd(self, model: str, usage: Usage) -> float | None:
        """The cost of `usage` on `model`, or None when its price is unknown (never a
        silent zero)."""
        config = self._models.get(model)
        if (
            config is None
            or config.input_usd_per_mtok is None
            or (config.output_usd_per_mtok is None)
        ):
            return None
        input_price = config.input_usd_per_mtok
        cached_price = (
            config.cached_input_usd_per_mtok
            if config.cached_input_usd_per_mtok is not None
            else input_price
        )
        write_price = (
            config.cache_write_usd_per_mtok
            if config.cache_write_usd_per_mtok is not None
            else input_price
        )
        uncached = max(0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens)
        total = (
            uncached * input_price
            + usage.cached_input_tokens * cached_price
            + usage.cache_write_tokens * write_price
            + usage.output_tokens * config.output_usd_per_mtok
        )
        return total / 1_000_000
