"""Building the configured providers' adapters, and deciding which ones are usable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from switchpoint.config.schema import Config, ProviderConfig
from switchpoint.providers.anthropic import AnthropicAdapter
from switchpoint.providers.api_keys import read_api_key
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.google import GoogleAdapter
from switchpoint.providers.http_adapter import HttpProviderAdapter
from switchpoint.providers.openai import OpenAIAdapter, OpenAICompatibleAdapter
from switchpoint.providers.openai_responses import OpenAIResponsesAdapter
from switchpoint.providers.simulated import SimulatedAdapter
from switchpoint.transport.http_client import HttpClient

HTTP_ADAPTERS: dict[str, type[HttpProviderAdapter]] = {
    OpenAIAdapter.type: OpenAIAdapter,
    OpenAIResponsesAdapter.type: OpenAIResponsesAdapter,
    OpenAICompatibleAdapter.type: OpenAICompatibleAdapter,
    AnthropicAdapter.type: AnthropicAdapter,
    GoogleAdapter.type: GoogleAdapter,
}


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    name: str
    type: str
    available: bool
    reason: str | None


def build_adapters(
    config: Config, client: HttpClient, environ: Mapping[str, str] | None = None
) -> dict[str, ProviderAdapter]:
    env = os.environ if environ is None else environ
    adapters: dict[str, ProviderAdapter] = {}
    for name, provider in config.providers.items():
        adapters[name] = _build(name, provider, config, client, env)
    return adapters


def _build(
    name: str,
    provider: ProviderConfig,
    config: Config,
    client: HttpClient,
    env: Mapping[str, str],
) -> ProviderAdapter:
    models = dict(config.models)
    if provider.type == "simulated":
        return SimulatedAdapter(name, provider, models)
    key, unavailable = read_api_key(provider, env)
    adapter_class = HTTP_ADAPTERS[provider.type]
    adapter = adapter_class(name, provider, models, client=client, api_key=key)
    if unavailable is not None:
        adapter.unavailable_reason = unavailable
    return adapter


def provider_statuses(adapters: Mapping[str, ProviderAdapter]) -> list[ProviderStatus]:
    return [
        ProviderStatus(name, adapter.config.type, adapter.available, adapter.unavailable_reason)
        for name, adapter in adapters.items()
    ]
