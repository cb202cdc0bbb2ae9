"""Which targets continue a trailing assistant message (used to resume a cut stream).

Seeded by the `models:` table's `supports_prefill`; where that is unset, by the vendor:
Anthropic and Gemini continue a final assistant turn, OpenAI's chat API answers anew
(which would duplicate text), and an OpenAI-compatible server is not trusted to. A
`prefill_rejected` failure marks a (provider, model) as not supporting it for the rest
of the process.
"""

from __future__ import annotations

from switchpoint.config.schema import Config

_BY_VENDOR = {
    "anthropic": True,
    "google": True,
    "simulated": True,
    "openai": False,
    "openai_responses": False,
    "openai_compatible": False,
}


class PrefillSupport:
    def __init__(self, config: Config) -> None:
        self._models = {name: model.supports_prefill for name, model in config.models.items()}
        self._types = {name: provider.type for name, provider in config.providers.items()}
        self._rejected: set[tuple[str, str]] = set()

    def supports(self, provider: str, model: str) -> bool:
        if (provider, model) in self._rejected:
            return False
        configured = self._models.get(model)
        if configured is not None:
            return configured
        return _BY_VENDOR.get(self._types.get(provider, ""), False)

    def rejected(self, provider: str, model: str) -> bool:
        """Learn from a rejection; True if this is news."""
        key = (provider, model)
        if key in self._rejected:
            return False
        self._rejected.add(key)
        return True
