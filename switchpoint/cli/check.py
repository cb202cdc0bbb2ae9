"""`switchpoint check`: validate a configuration and show what it would run."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from switchpoint.cli.config_option import ConfigPath, load_or_exit
from switchpoint.cli.start_checks import unsafe_start_problems
from switchpoint.cli.terminal import escape, stderr, stdout
from switchpoint.config.schema import Config
from switchpoint.pricing import PriceTable
from switchpoint.providers.api_keys import read_api_key
from switchpoint.url_redaction import redact_url

if TYPE_CHECKING:
    from rich.table import Table


def _add_row(table: Table, *cells: str) -> None:
    # Text, not markup strings: names, models and URLs come from the configuration
    # file, and a `[/x]` in one must print as itself rather than crash the command.
    from rich.text import Text

    table.add_row(*(Text(cell) for cell in cells))


def check(config: ConfigPath = None) -> None:
    """Validate a configuration file: print every problem and exit non-zero, or a summary."""
    from rich.table import Table

    cfg = load_or_exit(config)
    refused = unsafe_start_problems(cfg, os.environ)
    if refused:
        # What `serve` would refuse to start on, said before it is tried.
        for problem in refused:
            stderr().print(
                f"[red]serve would refuse to start:[/] {escape(problem)}", soft_wrap=True
            )
        raise typer.Exit(2)
    prices = PriceTable(dict(cfg.models))
    providers = Table(title="providers")
    for column in ("name", "type", "base_url", "key"):
        providers.add_column(column)
    for name, provider in cfg.providers.items():
        if provider.type == "simulated":
            key = "not needed"
        elif provider.api_key_env:
            _, unavailable = read_api_key(provider, os.environ)
            if unavailable is None:
                key = f"{provider.api_key_env} set"
            elif unavailable.endswith("is not set"):
                key = f"{provider.api_key_env} NOT SET (unavailable)"
            else:
                key = f"UNUSABLE (unavailable): {unavailable}"
        else:
            key = "none"
        base_url = redact_url(str(provider.base_url)) if provider.base_url else "-"
        _add_row(providers, name, provider.type, base_url, key)
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
        _add_row(
            profiles,
            name,
            profile.model,
            profile.provider,
            f"{profile.max_context:,}",
            f"{profile.cost_weight:g}",
            ", ".join(profile.fallbacks) or "-",
            "known" if prices.known(profile.model) else "UNKNOWN (cost recorded as unknown)",
        )
    stdout().print(providers)
    stdout().print(profiles)
    stdout().print(resilience_table(cfg))
    stdout().print("[green]configuration is valid[/]")


def resilience_table(cfg: Config) -> Table:
    """Retries, breakers and time limits as they will apply."""
    from rich.table import Table

    fallback = cfg.routing.fallback
    breaker = fallback.circuit_breaker
    table = Table(title="resilience")
    table.add_column("setting")
    table.add_column("value")
    store = breaker.store
    rows = [
        ("fallback", "on" if fallback.enabled else "off (first target only)"),
        (
            "retries",
            f"{fallback.max_retries} per target, backoff {fallback.backoff_base_s:g}s doubling "
            f"to {fallback.backoff_max_s:g}s, Retry-After honoured up to "
            f"{fallback.max_retry_after_s:g}s",
        ),
        (
            "retry budget",
            f"{fallback.retry_budget_min} + {fallback.retry_budget_ratio:g} x attempts per window",
        ),
        (
            "circuit breaker",
            f"opens at {fallback.circuit_breaker_threshold:.0%} errors over {breaker.window_s:g}s "
            f"(min {breaker.min_requests} requests"
            + (
                f", slower than {breaker.latency_limit_ms:g} ms counts as an error"
                if breaker.latency_limit_ms is not None
                else ""
            )
            + f"); open {breaker.open_s:g}s; {breaker.half_open_probes} probe(s)",
        ),
        (
            "breaker store",
            "this process"
            if store.type == "memory"
            # Never the password a Redis URL may hold.
            else f"redis {redact_url(str(store.url))} ({store.key_prefix})",
        ),
        ("request deadline", f"{fallback.request_deadline_s:g}s"),
        (
            "stream continuation",
            f"up to {fallback.max_continuations} per call" if fallback.max_continuations else "off",
        ),
        (
            "content-policy refusal",
            "fails over" if fallback.content_policy_fallback else "passed back",
        ),
    ]
    for name, provider in cfg.providers.items():
        rows.append(
            (
                f"timeouts {name}",
                f"connect {provider.connect_timeout_s:g}s, first token "
                f"{min(provider.first_token_timeout_s, provider.timeout_s):g}s, idle "
                f"{min(provider.stream_idle_timeout_s, provider.timeout_s):g}s, attempt "
                f"{provider.timeout_s:g}s",
            )
        )
    for setting, value in rows:
        _add_row(table, setting, value)
    return table
