"""Configurations that put switchpoint in front of fake upstreams."""

from __future__ import annotations

import copy
from typing import Any

KEYS = {"PRIMARY_KEY": "sk-fake-openai", "BACKUP_KEY": "sk-fake-openai"}

# Short limits so that fault tests end quickly; generous enough for a loaded machine.
FAST_PROVIDER: dict[str, Any] = {
    "timeout_s": 20.0,
    "connect_timeout_s": 2.0,
    "first_token_timeout_s": 3.0,
    "stream_idle_timeout_s": 1.0,
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def openai_pair(
    primary_url: str,
    backup_url: str,
    *,
    fallback: dict[str, Any] | None = None,
    primary: dict[str, Any] | None = None,
    backup: dict[str, Any] | None = None,
    models: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Profile `main` (gpt-a on `primary`, 100k context) falls back to `backup` (gpt-b
    on `backup`, 200k context). Breakers are effectively off unless `fallback` says."""
    document: dict[str, Any] = {
        "logging": {"access_log": False},
        "providers": {
            "primary": {
                "type": "openai",
                "base_url": primary_url,
                "api_key_env": "PRIMARY_KEY",
                **FAST_PROVIDER,
            },
            "backup": {
                "type": "openai",
                "base_url": backup_url,
                "api_key_env": "BACKUP_KEY",
                **FAST_PROVIDER,
            },
        },
        "models": {
            "gpt-a": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0},
            "gpt-b": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0},
        },
        "routing": {
            "default_profile": "main",
            "profiles": {
                "main": {
                    "model": "gpt-a",
                    "provider": "primary",
                    "max_context": 100_000,
                    "cost_weight": 0.5,
                    "fallbacks": ["backup"],
                },
                "backup": {
                    "model": "gpt-b",
                    "provider": "backup",
                    "max_context": 200_000,
                    "cost_weight": 0.5,
                },
            },
            "fallback": {
                "max_retries": 2,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.2,
                "circuit_breaker": {"min_requests": 100_000},
            },
        },
    }
    extra: dict[str, Any] = {"routing": {"fallback": fallback or {}}}
    extra["providers"] = {"primary": primary or {}, "backup": backup or {}}
    extra["models"] = models or {}
    return _merge(document, extra)
