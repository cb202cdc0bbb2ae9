"""A gateway with a ledger, served in the background against a fake vendor upstream."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

from switchpoint.config.loader import parse_config
from switchpoint.config.schema import Config
from switchpoint.gateway import Gateway
from switchpoint.ledger.database import Database
from switchpoint.ledger.url import parse_ledger_url
from switchpoint.server.background import BackgroundServer
from tests.fakes import OpenAIFake

# Round prices (USD per million tokens) so costs are easy to compute by hand.
PRICES: dict[str, dict[str, float]] = {
    "gpt-5.5": {"input_usd_per_mtok": 4.0, "cached_input_usd_per_mtok": 0.4,
                "output_usd_per_mtok": 20.0},
    "gpt-5.4": {"input_usd_per_mtok": 1.0, "cached_input_usd_per_mtok": 0.1,
                "output_usd_per_mtok": 5.0},
}  # fmt: skip

OPENAI_KEY_ENV = "TEST_OPENAI_KEY"
# The master key of the gateways that `serving(..., master_key=MASTER_KEY)` stands up.
MASTER_KEY = "sk-master-0123456789"


def usd(model: str, prompt: int, output: int, cached: int = 0) -> float:
    """The price of one call, computed by hand from PRICES."""
    price = PRICES[model]
    return (
        (prompt - cached) * price["input_usd_per_mtok"]
        + cached * price["cached_input_usd_per_mtok"]
        + output * price["output_usd_per_mtok"]
    ) / 1e6


def gateway_config(fake: OpenAIFake, ledger_url: str, **sections: Any) -> Config:
    """terminal_agent -> gpt-5.5 falling back to cost_sensitive -> gpt-5.4, both on the fake."""
    document: dict[str, Any] = {
        "providers": {
            "openai": {"type": "openai", "base_url": fake.base_url, "api_key_env": OPENAI_KEY_ENV,
                       "connect_timeout_s": 2, "first_token_timeout_s": 10},
        },
        "models": PRICES,
        "routing": {
            "default_profile": "terminal_agent",
            "profiles": {
                "terminal_agent": {"model": "gpt-5.5", "provider": "openai",
                                   "max_context": 1_000_000, "cost_weight": 0.8,
                                   "fallbacks": ["cost_sensitive"]},
                "cost_sensitive": {"model": "gpt-5.4", "provider": "openai",
                                   "max_context": 128_000, "cost_weight": 1.0},
            },
            "fallback": {"backoff_base_s": 0.01, "backoff_max_s": 0.05},
        },
        "ledger": {"url": ledger_url, "flush_interval_s": 0.1, "sync_interval_s": 0.5},
        "logging": {"access_log": False},
    }  # fmt: skip
    for name, value in sections.items():
        if name == "cost":
            document["routing"]["cost"] = value
        else:
            document.setdefault(name, {}).update(value)
    return parse_config(document)


def impatient_openai(fake: OpenAIFake) -> dict[str, Any]:
    """The OpenAI provider with short limits: an attempt the fake holds silent times out
    in under half a second, and the chain's next target answers."""
    return {"type": "openai", "base_url": fake.base_url, "api_key_env": OPENAI_KEY_ENV,
            "connect_timeout_s": 0.2, "first_token_timeout_s": 0.4,
            "timeout_s": 0.4}  # fmt: skip


@contextlib.contextmanager
def serving(
    config: Config, fake: OpenAIFake, *, master_key: str | None = None
) -> Iterator[BackgroundServer]:
    environ = {OPENAI_KEY_ENV: fake.api_key}
    if master_key is not None:
        environ["SWITCHPOINT_MASTER_KEY"] = master_key
    with BackgroundServer(config, environ=environ) as server:
        yield server


def gateway_of(server: BackgroundServer) -> Gateway:
    assert server.gateway is not None
    return server.gateway


def flush(server: BackgroundServer) -> None:
    ledger = gateway_of(server).ledger
    assert ledger is not None
    assert ledger.writer.flush_sync(10)


def client(server: BackgroundServer, api_key: str = "sk-anything", **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=api_key, **kwargs)


def aclient(
    server: BackgroundServer, api_key: str = "sk-anything", **kwargs: Any
) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=api_key, **kwargs)


def ledger_rows(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    connection = Database(parse_ledger_url(url)).connect()
    try:
        return connection.execute(sql, params)
    finally:
        connection.close()


def create_key(base_url: str, **body: Any) -> dict[str, Any]:
    """A virtual key made with `POST /v1/keys` on a gateway whose master key is
    `MASTER_KEY`; the answer holds the key itself under `key`."""
    response = httpx2.post(
        f"{base_url}/v1/keys", json=body, headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created
