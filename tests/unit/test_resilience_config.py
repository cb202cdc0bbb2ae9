"""The resilience keys: defaults, validation by key, and `switchpoint check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchpoint.config.loader import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_documented_values() -> None:
    fallback = parse_config({}).routing.fallback
    breaker = fallback.circuit_breaker
    assert (breaker.window_s, breaker.min_requests, breaker.open_s) == (30, 10, 15)
    assert (breaker.half_open_probes, breaker.latency_limit_ms) == (2, None)
    assert breaker.store.type == "memory"
    assert fallback.request_deadline_s == 900 and fallback.max_continuations == 3
    provider = parse_config({}).providers["openai"]
    assert (provider.connect_timeout_s, provider.first_token_timeout_s) == (5, 60)
    assert (provider.stream_idle_timeout_s, provider.timeout_s) == (30, 600)


@pytest.mark.parametrize(
    ("document", "key"),
    [
        (
            {"routing": {"fallback": {"circuit_breaker": {"window_s": 0}}}},
            "circuit_breaker.window_s",
        ),
        (
            {"routing": {"fallback": {"circuit_breaker": {"half_open_probes": 0}}}},
            "half_open_probes",
        ),
        (
            {"routing": {"fallback": {"circuit_breaker": {"latency_limit_ms": -1}}}},
            "latency_limit_ms",
        ),
        ({"routing": {"fallback": {"circuit_breaker": {"store": {"type": "redis"}}}}}, "store"),
        ({"routing": {"fallback": {"request_deadline_s": 0}}}, "request_deadline_s"),
        ({"routing": {"fallback": {"backoff_base_s": 5, "backoff_max_s": 1}}}, "fallback"),
        ({"routing": {"fallback": {"max_continuations": -1}}}, "max_continuations"),
        (
            {"providers": {"openai": {"type": "openai", "connect_timeout_s": 0}}},
            "connect_timeout_s",
        ),
        (
            {
                "providers": {
                    "openai": {"type": "openai", "timeout_s": 10, "stream_idle_timeout_s": 20}
                }
            },
            "stream_idle_timeout_s (20) cannot exceed timeout_s",
        ),
        ({"models": {"gpt-5.4": {"supports_prefill": "maybe"}}}, "supports_prefill"),
        ({"routing": {"fallback": {"circuit_breaker": {"windw_s": 3}}}}, "unknown key"),
    ],
)
def test_bad_values_are_named_by_key(document: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert key in str(caught.value)


def test_a_lowered_attempt_timeout_caps_the_default_sub_limits() -> None:
    config = parse_config({"providers": {"openai": {"type": "openai", "timeout_s": 10}}})
    assert config.providers["openai"].timeout_s == 10


def test_check_validates_and_shows_the_resilience_settings(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "routing:\n  fallback:\n    circuit_breaker:\n      latency_limit_ms: 8000\n"
        "      store: {type: redis, url: 'redis://127.0.0.1:6379/0'}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "switchpoint", "check", "--config", str(good)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "slower than 8000 ms counts as an error" in result.stdout
    assert "redis redis://127.0.0.1:6379/0" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("routing:\n  fallback:\n    circuit_breaker:\n      open_s: -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "switchpoint", "check", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "routing.fallback.circuit_breaker.open_s" in result.stdout + result.stderr
