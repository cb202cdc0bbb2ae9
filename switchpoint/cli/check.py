"""`switchpoint check`: validate a configuration and show what it would run."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from switchpoint.cli.config_option import ConfigPath, load_or_exit
from switchpoint.pricing import PriceTable

out = Console()


def check(config: ConfigPath = None) -> None:
    """Validate a configuration file: print every problem and exit non-zero, or a summary."""
    cfg = load_or_exit(config)
    prices = PriceTable(dict(cfg.models))
    providers = Table(title="providers")
    for column in ("name", "type", "base_url", "key"):
        providers.add_column(column)
    for name, provider in cfg.providers.items():
        if provider.type == "simulated":
            key = "not needed"
        elif provider.api_key_env:
            key = (
                f"{provider.api_key_env} set"
                if os.environ.get(provider.api_key_env)
                else f"{provider.api_key_env} NOT SET (unavailable)"
            )
        else:
            key = "none"
        providers.add_row(name, provider.type, str(provider.base_url or "-"), key)
    profiles = Table(title="profiles")
    for column in (
        "profile",
        "model",
        "provider",
        "max_context",
        "cost_weight",
        "fallbacks",
        "price",
    ):
        profiles.add_column(column)
    for name, profile in cfg.routing.profiles.items():
        profiles.add_row(
            name,
            profile.model,
            profile.provider,
            f"{profile.max_context:,}",
            f"{profile.cost_weight:g}",
            ", ".join(profile.fallbacks) or "-",
            "known" if prices.known(profile.model) else "UNKNOWN (cost recorded as unknown)",
        )
    out.print(providers)
    out.print(profiles)
    out.print("[green]configuration is valid[/]")
