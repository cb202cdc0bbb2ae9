"""A target is one (profile, provider, model) that an attempt can be sent to."""

from __future__ import annotations

from dataclasses import dataclass

from switchpoint.providers.base import ProviderAdapter
from switchpoint.routing.registry import Profile


@dataclass(frozen=True, slots=True)
class Target:
    profile: Profile
    adapter: ProviderAdapter

    @property
    def model(self) -> str:
        return self.profile.model

    @property
    def provider(self) -> str:
        return self.adapter.name

    @property
    def key(self) -> tuple[str, str]:
        """Circuit breakers are kept per (provider, model)."""
        return (self.adapter.name, self.profile.model)
