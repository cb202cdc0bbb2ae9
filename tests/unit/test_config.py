"""Configuration: the seed template's keys load as-is; every problem names its key."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from switchpoint.config import ConfigError, load_config

SEED_TEMPLATE = textwrap.dedent("""
    routing:
      context:
        reliability_threshold: 600000
        summarization_strategy: hierarchical
      cost:
        budget_fallback_trigger: 0.5
        metric: cost_per_completed_outcome
      profiles:
        terminal_agent:
          model: gpt-5.5
          provider: openai
          max_context: 1000000
          cost_weight: 0.8
        multi_file_refactor:
          model: claude-opus-4-7
          provider: anthropic
          max_context: 200000
          cost_weight: 0.6
        deep_research:
          model: gemini-3.1-pro
          provider: google
          max_context: 1000000
          cost_weight: 0.9
        cost_sensitive:
          model: gpt-5.4
          provider: openai
          max_context: 128000
          cost_weight: 1.0
      fallback:
        enabled: true
        max_retries: 2
        circuit_breaker_threshold: 0.15 # 15% error rate triggers fallback
    """)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(text)
    return path


def test_built_in_defaults_are_the_seed() -> None:
    config = load_config()
    routing = config.routing
    assert routing.context.reliability_threshold == 600_000
    assert routing.cost.budget_fallback_trigger == 0.5
    assert routing.fallback.max_retries == 2
    assert routing.fallback.circuit_breaker_threshold == 0.15
    seed = {
        "terminal_agent": ("gpt-5.5", "openai", 1_000_000, 0.8),
        "multi_file_refactor": ("claude-opus-4-7", "anthropic", 200_000, 0.6),
        "deep_research": ("gemini-3.1-pro", "google", 1_000_000, 0.9),
        "cost_sensitive": ("gpt-5.4", "openai", 128_000, 1.0),
    }
    assert {
        name: (p.model, p.provider, p.max_context, p.cost_weight)
        for name, p in routing.profiles.items()
    } == seed
    assert set(config.providers) == {"openai", "anthropic", "google"}
    assert config.providers["google"].api_key_env == "GEMINI_API_KEY"


def test_the_seed_template_loads_verbatim(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SEED_TEMPLATE))
    assert config.routing.profiles["cost_sensitive"].max_context == 128_000
    # Built-in providers exist even though the file names none.
    assert config.providers["anthropic"].type == "anthropic"


def test_extensions_providers_fallbacks_models(tmp_path: Path) -> None:
    text = textwrap.dedent("""
        providers:
          local:
            type: openai_compatible
            base_url: http://127.0.0.1:8000/v1
            timeout_s: 30
        models:
          llama:
            input_usd_per_mtok: 0.1
            output_usd_per_mtok: 0.2
            cached_input_usd_per_mtok: 0.05
        routing:
          default_profile: cheap
          profiles:
            cheap: {model: llama, provider: local, max_context: 32000, cost_weight: 0.1,
                    fallbacks: [big]}
            big: {model: gpt-5.5, provider: openai, max_context: 1000000, cost_weight: 0.8}
        """)
    config = load_config(write(tmp_path, text))
    assert config.routing.profiles["cheap"].fallbacks == ("big",)
    assert config.providers["local"].timeout_s == 30
    assert config.models["llama"].cached_input_usd_per_mtok == 0.05
    # Seed-named defaults that this registry lacks are dropped, not errors.
    assert config.routing.context.long_context_profile is None
    assert config.routing.cost.budget_profile is None


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            "routing: {context: {reliability_threshold: -5}}",
            "routing.context.reliability_threshold",
            "greater than 0",
        ),
        ("routing: {fallback: {max_retries: many}}", "routing.fallback.max_retries", "integer"),
        (
            "routing: {profiles: {a: {model: m, provider: nowhere, max_context: 10, "
            "cost_weight: 0.5}}}",
            "routing.profiles.a.provider",
            "unknown provider 'nowhere'",
        ),
        (
            "routing: {profiles: {a: {model: m, provider: openai, max_context: 10, "
            "cost_weight: 0.5, fallbacks: [b]}}}",
            "routing.profiles.a.fallbacks[0]",
            "unknown profile 'b'",
        ),
        (
            "routing: {profiles: {a: {model: m, provider: openai, max_context: 10, "
            "cost_weight: 0.5, maxcontext: 4}}}",
            "routing.profiles.a.maxcontext",
            "unknown key",
        ),
        (
            "routing: {cost: {budget_fallback_trigger: 1.5}}",
            "routing.cost.budget_fallback_trigger",
            "less than or equal to 1",
        ),
        ("providers: {x: {type: openai_compatible}}", "providers.x", "needs a base_url"),
        ("providers: {x: {type: carrier_pigeon}}", "providers.x.type", "openai"),
        ("routing: {default_profile: ghost}", "routing.default_profile", "unknown profile 'ghost'"),
        ("servr: {port: 1}", "servr", "unknown key"),
        ('server: {host: ""}', "server.host", "at least 1 character"),
        (
            # A password in a mistyped URL is not repeated in the error.
            "routing: {fallback: {circuit_breaker: {store: {type: redis, "
            "url: 'http://:s3cretPw@10.0.0.5:6379/0'}}}}",
            "routing.fallback.circuit_breaker.store",
            "'http://10.0.0.5:6379/0'",
        ),
        # An infinite price passes `ge=0`, then makes every cost NaN.
        (
            "models: {gpt-5.5: {input_usd_per_mtok: .inf}}",
            "models.gpt-5.5.input_usd_per_mtok",
            "finite",
        ),
        ("providers: {openai: {timeout_s: .inf}}", "providers.openai.timeout_s", "finite"),
        (
            "routing: {cost: {task_budgets: {cost_sensitive: {tokens: 100000000000000000000}}}}",
            "routing.cost.task_budgets.cost_sensitive.tokens",
            "less than or equal to 1000000000000",
        ),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    problems = {problem.key: problem.message for problem in caught.value.problems}
    assert key in problems, problems
    assert fragment in problems[key]
    assert "s3cretPw" not in str(caught.value)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        "routing: {fallback: {max_retries: -1, circuit_breaker_threshold: 2}, "
        "context: {reliability_threshold: 0}}"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert len(caught.value.problems) == 3


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "routing:\n  context: [unclosed\n"))
    assert "line" in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert "cannot read" in str(caught.value)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchpoint", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_check_command_prints_every_problem_and_fails(tmp_path: Path) -> None:
    path = write(tmp_path, "routing: {fallback: {max_retries: -1}, cost: {metric: vibes}}")
    result = run_cli("check", "--config", str(path))
    assert result.returncode != 0
    assert "routing.fallback.max_retries" in result.stderr
    assert "routing.cost.metric" in result.stderr
    assert "Traceback" not in result.stderr
    # Each problem is a plain line: no console markup left in it.
    assert "[red]" not in result.stderr
    assert "  - routing.fallback.max_retries" in result.stderr


def test_check_command_prints_brackets_in_a_problem_as_they_are(tmp_path: Path) -> None:
    """A key the user wrote with brackets in it is quoted back whole, not read as markup."""
    result = run_cli("check", "--config", str(write(tmp_path, "routing:\n  bogus[red]: 1\n")))
    assert result.returncode != 0
    assert "  - routing.bogus[red]: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_command_accepts_the_seed_template(tmp_path: Path) -> None:
    result = run_cli("check", "--config", str(write(tmp_path, SEED_TEMPLATE)))
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout


def test_route_command_prints_the_decision_and_fails_when_nothing_fits() -> None:
    ok = run_cli("route", "--workload", "terminal_agent", "--tokens", "700000", "--budget", "0.3")
    assert ok.returncode == 0, ok.stderr
    assert '"model": "gemini-3.1-pro"' in ok.stdout
    assert '"context_guard"' in ok.stdout
    too_big = run_cli("route", "--workload", "terminal_agent", "--tokens", "5000000")
    assert too_big.returncode == 1
    assert "context_length_exceeded" in too_big.stdout


def test_the_shipped_example_configuration_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "deploy" / "switchpoint.example.yaml")
    assert config.routing.profiles["cost_sensitive"].fallbacks == ("deep_research", "local_coder")
