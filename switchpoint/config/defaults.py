"""The built-in configuration: the seed article's registry, plus the three vendors.

Prices are illustrative list prices (USD per million tokens) chosen to keep the seed's
relations (GPT-5.4 at half GPT-5.5's rate, Gemini with the lowest output price); set your
own in `models:`.

`output_limit_tokens` is filled only where the vendor's documented figure is known:
Claude Opus 4.7 writes at most 128,000 tokens (the model's pages on Google Cloud's
Vertex AI and Amazon Bedrock, as for Opus 4.6 and 4.8 in Anthropic's own model pages),
Gemini 3.1 Pro 65,536 (Google's Gemini API model page, `gemini-3.1-pro-preview`).
OpenAI's figures for GPT-5.5 and GPT-5.4 were not found in OpenAI's own documentation
(third parties disagree): unset, their maximum goes to OpenAI as the client sent it.
"""

from __future__ import annotations

from typing import Any

# Each reads its key from its type's variable (`schema.DEFAULT_KEY_ENV`).
DEFAULT_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {
        "type": "openai",
        "base_url": "https://api.openai.com/v1",
    },
    "anthropic": {
        "type": "anthropic",
        "base_url": "https://api.anthropic.com",
        "api_version": "2023-06-01",
    },
    "google": {
        "type": "google",
        "base_url": "https://generativelanguage.googleapis.com",
        "api_version": "v1beta",
    },
}

DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    "gpt-5.5": {
        "input_usd_per_mtok": 5.0,
        "output_usd_per_mtok": 30.0,
        "cached_input_usd_per_mtok": 0.5,
        "supports_prefill": False,
    },
    "gpt-5.4": {
        "input_usd_per_mtok": 2.5,
        "output_usd_per_mtok": 15.0,
        "cached_input_usd_per_mtok": 0.25,
        "supports_prefill": False,
    },
    "claude-opus-4-7": {
        "input_usd_per_mtok": 5.0,
        "output_usd_per_mtok": 25.0,
        "cached_input_usd_per_mtok": 0.5,
        "cache_write_usd_per_mtok": 6.25,
        # Anthropic's models from 4.6 on reject a trailing assistant message (prefill).
        "supports_prefill": False,
        "max_output_tokens": 32000,
        "output_limit_tokens": 128_000,
    },
    "gemini-3.1-pro": {
        "input_usd_per_mtok": 2.0,
        "output_usd_per_mtok": 12.0,
        "cached_input_usd_per_mtok": 0.2,
        "supports_prefill": True,
        "output_limit_tokens": 65_536,
    },
}

DEFAULT_PROFILES: dict[str, dict[str, Any]] = {
    "terminal_agent": {
        "model": "gpt-5.5",
        "provider": "openai",
        "max_context": 1_000_000,
        "cost_weight": 0.8,
        "fallbacks": ["multi_file_refactor", "cost_sensitive"],
        "routing_rationale": "Optimized for long-running shell sessions and CI loops",
    },
    "multi_file_refactor": {
        "model": "claude-opus-4-7",
        "provider": "anthropic",
        "max_context": 200_000,
        "cost_weight": 0.6,
        "fallbacks": ["terminal_agent", "deep_research"],
        "routing_rationale": "Superior cross-branch reasoning and MCP tool orchestration",
    },
    "deep_research": {
        "model": "gemini-3.1-pro",
        "provider": "google",
        "max_context": 1_000_000,
        "cost_weight": 0.9,
        "fallbacks": ["terminal_agent", "multi_file_refactor"],
        "routing_rationale": "Best-in-class web-browsing and BrowseComp performance",
    },
    "cost_sensitive": {
        "model": "gpt-5.4",
        "provider": "openai",
        "max_context": 128_000,
        "cost_weight": 1.0,
        "fallbacks": ["deep_research", "multi_file_refactor"],
        "routing_rationale": "Baseline performance at 50% API cost of GPT-5.5",
    },
}


def default_document() -> dict[str, Any]:
    """The built-in configuration as the YAML document it is equivalent to."""
    return {
        "providers": {name: dict(spec) for name, spec in DEFAULT_PROVIDERS.items()},
        "models": {name: dict(spec) for name, spec in DEFAULT_MODELS.items()},
        "routing": {
            "default_profile": "cost_sensitive",
            "context": {
                "reliability_threshold": 600_000,
                "summarization_strategy": "hierarchical",
            },
            "cost": {"budget_fallback_trigger": 0.5, "metric": "cost_per_completed_outcome"},
            "profiles": {name: dict(spec) for name, spec in DEFAULT_PROFILES.items()},
            "fallback": {"enabled": True, "max_retries": 2, "circuit_breaker_threshold": 0.15},
        },
    }
