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


def demo_config(port: int = 0, ledger_url: str | None = None) -> Config:
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
            "ledger": {
                "url": ledger_url or "sqlite:///switchpoint-demo-ledger.db",
                "flush_interval_s": 0.2,
            },
        }
    )


# What each workload's agents deliver, and how often they succeed in the demo.
OUTCOME_KIND = {
    "terminal_agent": "ci_pass",
    "multi_file_refactor": "pr_merged",
    "deep_research": "issue_resolved",
    "cost_sensitive": "ci_pass",
}
SUCCESS_RATE = {
    "terminal_agent": 0.85,
    "multi_file_refactor": 0.75,
    "deep_research": 0.8,
    "cost_sensitive": 0.6,
}


@dataclass(frozen=True, slots=True)
class DemoRequest:
    """One call of one agent task in the mixed workload."""

    workload: str
    stream: bool
    budget: float
    context_tokens: int
    protocol: str  # "openai" or "anthropic": the client SDK style being imitated
    task_id: str


@dataclass(frozen=True, slots=True)
class DemoTask:
    task_id: str
    workload: str
    succeeds: bool


def mixed_workload(count: int, seed: int = 7) -> tuple[list[DemoRequest], list[DemoTask]]:
    """A reproducible mix of agent tasks (5-12 calls each, interleaved as concurrent
    agents would be): mostly ordinary calls, some long-context terminal sessions (the
    context guard), some tight budgets (the budget rule), both client protocols."""
    rng = random.Random(seed)
    workloads = ["terminal_agent", "multi_file_refactor", "deep_research", "cost_sensitive"]
    weights = [4, 4, 2, 2]
    tasks: list[DemoTask] = []
    pending: list[list[DemoRequest]] = []
    planned = 0
    while planned < count:
        workload = rng.choices(workloads, weights)[0]
        task = DemoTask(
            f"demo-{len(tasks) + 1:03d}", workload, rng.random() < SUCCESS_RATE[workload]
        )
        tasks.append(task)
        calls = [_call(rng, task) for _ in range(min(rng.randint(5, 12), count - planned))]
        planned += len(calls)
        pending.append(calls)
    requests: list[DemoRequest] = []
    while pending:
        calls = rng.choice(pending)
        requests.append(calls.pop(0))
        if not calls:
            pending.remove(calls)
    return requests, tasks


def _call(rng: random.Random, task: DemoTask) -> DemoRequest:
    context = rng.randint(2_000, 90_000)
    budget = 1.0
    roll = rng.random()
    if task.workload == "terminal_agent" and roll < 0.2:
        context = rng.randint(650_000, 900_000)
    elif roll < 0.15:
        budget = round(rng.uniform(0.1, 0.45), 2)
    return DemoRequest(
        workload=task.workload,
        stream=rng.random() < 0.5,
        budget=budget,
        context_tokens=context,
        protocol="anthropic" if task.workload == "multi_file_refactor" else "openai",
        task_id=task.task_id,
    )
