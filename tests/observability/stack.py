"""A gateway in front of two fake OpenAI upstreams, and a scraper for its /metrics.

`main` serves the `primary` and `long` profiles, `backup` serves `backup` (also the
budget profile); `primary` falls back to `backup`. Prices are round numbers so tests can
assert exact costs.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
from prometheus_client.parser import text_string_to_metric_families

from switchpoint.config.loader import parse_config
from switchpoint.config.schema import Config
from switchpoint.server.background import BackgroundServer
from tests.fakes import OpenAIFake

KEY_ENV = {"SP_TEST_MAIN_KEY": "sk-fake-openai", "SP_TEST_BACKUP_KEY": "sk-fake-openai"}
PRICES = {
    "gpt-primary": {
        "input_usd_per_mtok": 1.0,
        "output_usd_per_mtok": 2.0,
        "cached_input_usd_per_mtok": 0.1,
    },
    "gpt-backup": {"input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.0},
    "gpt-long": {"input_usd_per_mtok": 2.0, "output_usd_per_mtok": 4.0},
}


def gateway_config(
    main: OpenAIFake,
    backup: OpenAIFake,
    *,
    fallback: Mapping[str, Any] | None = None,
    observability: Mapping[str, Any] | None = None,
    prices: Mapping[str, Any] = PRICES,
    ledger_path: Path | None = None,
) -> Config:
    """`ledger_path`: keep a SQLite ledger there (the ledger is off otherwise)."""
    return parse_config(
        {
            "providers": {
                "main": {
                    "type": "openai",
                    "base_url": main.base_url,
                    "api_key_env": "SP_TEST_MAIN_KEY",
                },
                "backup": {
                    "type": "openai",
                    "base_url": backup.base_url,
                    "api_key_env": "SP_TEST_BACKUP_KEY",
                },
            },
            "models": dict(prices),
            "routing": {
                "default_profile": "primary",
                "context": {"long_context_profile": "long"},
                "cost": {"budget_profile": "backup"},
                "profiles": {
                    "primary": {
                        "model": "gpt-primary",
                        "provider": "main",
                        "max_context": 200_000,
                        "cost_weight": 0.8,
                        "fallbacks": ["backup"],
                    },
                    "backup": {
                        "model": "gpt-backup",
                        "provider": "backup",
                        "max_context": 200_000,
                        "cost_weight": 0.3,
                    },
                    "long": {
                        "model": "gpt-long",
                        "provider": "main",
                        "max_context": 1_000_000,
                        "cost_weight": 0.9,
                    },
                },
                "fallback": {
                    "max_retries": 0,
                    "backoff_base_s": 0.001,
                    "backoff_max_s": 0.01,
                    "circuit_breaker_threshold": 0.5,
                    "circuit_breaker": {
                        "window_s": 60,
                        "min_requests": 3,
                        "open_s": 600,
                        "half_open_probes": 1,
                    },
                    **(fallback or {}),
                },
            },
            "logging": {"access_log": False},
            "observability": dict(observability or {}),
            "ledger": (
                {"url": f"sqlite:///{ledger_path}", "flush_interval_s": 0.05}
                if ledger_path is not None
                else {"enabled": False}
            ),
        }
    )


@contextmanager
def running_gateway(
    config: Config, environ: Mapping[str, str] | None = None
) -> Iterator[BackgroundServer]:
    with BackgroundServer(config, environ={**KEY_ENV, **(environ or {})}) as server:
        yield server


def client(server: BackgroundServer, api_key: str = "client-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=api_key, max_retries=0)


def http_get(
    url: str, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: BackgroundServer, headers: Mapping[str, str] | None = None) -> Samples:
    status, _, body = http_get(server.base_url + "/metrics", headers)
    assert status == 200, body
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series does not exist (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def wait_for(server: BackgroundServer, name: str, expected: float, **labels: str) -> Samples:
    """Scrape until `name{labels}` reaches `expected` (streams finish their bookkeeping
    just after the client has read the last event), or fail after a few seconds."""
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(server)
        if value(samples, name, **labels) >= expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.02)
