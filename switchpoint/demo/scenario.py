"""The offline demo's configuration and traffic: the seed's registry on simulated vendors.

The three vendors are replaced by `simulated` providers (no keys, no network), and the
breaker settings are shortened so that an outage opens a breaker, and its recovery
closes it, within seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from switchpoint.config.defaults import DEFAULT_PROFILES
from switchpoint.config.loader import parse_config
from switchpoint.config.schema import Config

# The vendor whose simulated stand-in goes down midway through the demo.
OUTAGE_PROVIDER = "anthropic"


def demo_config(port: int = 0) -> Config:
    providers: dict[str, Any] = {
        name: {
            "type": "simulated",
            "simulation": {"latency_ms": latency, "chunk_delay_ms": 4, "output_tokens": 40},
        }
        for name, latency in (("openai", 35.0), ("anthropic", 50.0), ("google", 45.0))
    }
    return parse_config(
        {
            "server": {"port": port},
            "providers": providers,
            "routing": {
                "profiles": {name: dict(profile) for name, profile in DEFAULT_PROFILES.items()},
                "fallback": {
                    "max_retries": 1,
                    "backoff_base_s": 0.02,
                    "backoff_max_s": 0.1,
                    "circuit_breaker": {
                        "window_s": 5,
                        "min_requests": 4,
                        "open_s": 3,
                        "half_open_probes": 2,
                    },
                },
            },
            "logging": {"access_log": False},
        }
    )


@dataclass(frozen=True, slots=True)
class DemoRequest:
    """One request of the mixed workload."""

    workload: str
    stream: bool
    budget: float
    context_tokens: int
    protocol: str  # "openai" or "anthropic": the client SDK style being imitated

    def label(self) -> str:
        extras = []
        if self.context_tokens > 600_000:
            extras.append(f"{self.context_tokens // 1000}K ctx")
        if self.budget < 0.5:
            extras.append(f"budget {self.budget}")
        return self.workload + (f" ({', '.join(extras)})" if extras else "")


def mixed_workload(count: int, seed: int = 7) -> list[DemoRequest]:
    """A reproducible mix: mostly ordinary calls, some long-context terminal sessions
    (the context guard), some tight budgets (the budget rule), both client protocols."""
    rng = random.Random(seed)
    workloads = ["terminal_agent", "multi_file_refactor", "deep_research", "cost_sensitive"]
    weights = [4, 4, 2, 2]
    requests = []
    for _ in range(count):
        workload = rng.choices(workloads, weights)[0]
        context = rng.randint(2_000, 90_000)
        budget = 1.0
        roll = rng.random()
        if workload == "terminal_agent" and roll < 0.2:
            context = rng.randint(650_000, 900_000)
        elif roll < 0.15:
            budget = round(rng.uniform(0.1, 0.45), 2)
        requests.append(
            DemoRequest(
                workload=workload,
                stream=rng.random() < 0.5,
                budget=budget,
                context_tokens=context,
                protocol="anthropic" if workload == "multi_file_refactor" else "openai",
            )
        )
    return requests
