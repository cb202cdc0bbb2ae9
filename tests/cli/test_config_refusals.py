"""Settings that pass a shallow look but fail (or mean something else) once served are
refused by `check` and by `serve` alike: exit 2, one line naming the key, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.cli_run import run
from tests.gateway_process import REPO


def serve(config: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SWITCHPOINT_MASTER_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "switchpoint", "serve", "--port", "0", "--config", str(config)],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )


def write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump({"ledger": {"enabled": False}, **document}))
    return path


def refused_by_both(config: Path, key: str, message: str) -> None:
    checked = run("check", "--config", str(config))
    assert checked.exit_code == 2, checked.output
    assert f"{key}: " in checked.output and message in checked.output, checked.output
    served = serve(config)
    assert served.returncode == 2, served.stderr[-2000:]
    assert "Traceback" not in served.stderr
    assert f"{key}: " in served.stderr and message in served.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://127.0.0.1:99999/0", "Port out of range"),
        ("redis://127.0.0.1:abc/0", "Port could not be cast"),
        ("redis://127.0.0.1:6379/0?socket_timeout=soon", "socket_timeout"),
        # Redis' client would silently use database 0.
        ("redis://127.0.0.1:6379/sessions", "the database after the host must be a number"),
    ],
)
def test_a_redis_url_its_client_cannot_use_is_refused(
    tmp_path: Path, url: str, message: str
) -> None:
    store = {"type": "redis", "url": url}
    refused_by_both(
        write(tmp_path, {"routing": {"fallback": {"circuit_breaker": {"store": store}}}}),
        "routing.fallback.circuit_breaker.store",
        message,
    )


def test_a_bad_summary_cache_url_is_refused_and_its_password_not_shown(tmp_path: Path) -> None:
    store = {"type": "redis", "url": "redis://:hunter2@127.0.0.1:70000/0"}
    config = write(tmp_path, {"routing": {"context": {"summary_cache": store}}})
    refused_by_both(config, "routing.context.summary_cache", "Port out of range")
    assert "hunter2" not in run("check", "--config", str(config)).output


@pytest.mark.parametrize(
    ("provider", "key", "message"),
    [
        # Each used to pass check and crash serve with a traceback.
        (
            {"type": "openai", "headers": {"X-Team": "a\r\nInjected: 1"}},
            "providers.openai.headers",
            "the value of 'X-Team' holds a line break",
        ),
        (
            {"type": "openai", "headers": {"X-Team": "caf\u00e9 \u20ac"}},
            "providers.openai.headers",
            "character outside Latin-1",
        ),
        (
            {"type": "anthropic", "api_version": "2023-06-01\n"},
            "providers.anthropic.api_version",
            "must be letters, digits",
        ),
        # These went out as they were: a request the vendor cannot parse.
        (
            {"type": "openai", "headers": {"X Team": "a"}},
            "providers.openai.headers",
            "'X Team' is not a header name",
        ),
        (
            {"type": "openai", "headers": {"Content-Length": "10"}},
            "providers.openai.headers",
            "'Content-Length' is set by the gateway",
        ),
    ],
)
def test_provider_headers_no_request_can_carry_are_refused(
    tmp_path: Path, provider: dict[str, object], key: str, message: str
) -> None:
    name = key.split(".")[1]
    refused_by_both(write(tmp_path, {"providers": {name: provider}}), key, message)


@pytest.mark.parametrize(
    ("document", "key"),
    [
        # YAML's true/yes/on: taken for 1 (a port, a worker count, a limit) before.
        ({"server": {"max_in_flight": True}}, "server.max_in_flight"),
        ({"routing": {"fallback": {"max_retries": False}}}, "routing.fallback.max_retries"),
        ({"models": {"m": {"input_usd_per_mtok": True}}}, "models.m.input_usd_per_mtok"),
    ],
)
def test_a_boolean_where_a_number_belongs_is_refused(
    tmp_path: Path, document: dict[str, object], key: str
) -> None:
    refused_by_both(write(tmp_path, document), key, "must be a number, not a boolean")


def test_an_empty_master_key_variable_name_is_refused(tmp_path: Path) -> None:
    # It named no variable: the gateway ran open, with nothing said of the template.
    config = write(tmp_path, {"server": {"master_key_env": ""}})
    refused_by_both(config, "server.master_key_env", "at least 1 character")


def test_every_problem_is_named_in_one_run_bad_values_and_bad_names_alike(tmp_path: Path) -> None:
    # The names (an unknown provider, a fallback to a profile that does not exist) were
    # only checked once every value was valid: fixing the port showed the next round.
    profile = {
        "model": "gpt-5.4",
        "provider": "opnai",
        "max_context": 1000,
        "cost_weight": 0.5,
        "fallbacks": ["cheap"],
    }
    config = write(tmp_path, {"server": {"port": -1}, "routing": {"profiles": {"main": profile}}})
    checked = run("check", "--config", str(config))
    assert checked.exit_code == 2
    assert "(3 problem(s))" in checked.output, checked.output
    assert "server.port: " in checked.output
    assert "routing.profiles.main.provider: unknown provider 'opnai'" in checked.output
    assert "routing.profiles.main.fallbacks[0]: unknown profile 'cheap'" in checked.output


def test_a_section_with_every_key_commented_out_keeps_its_defaults(tmp_path: Path) -> None:
    # YAML reads such a section as null: it was refused ("Input should be a valid
    # dictionary or instance of ServerConfig"), the template's commented keys a mistake.
    config = tmp_path / "switchpoint.yaml"
    config.write_text(
        "server:\n"
        "  # port: 9000\n"
        "providers:\n"
        "routing:\n"
        "  fallback:\n"
        "    circuit_breaker:\n"
        "      # window_s: 10\n"
        "ledger:\n"
        "  enabled: false\n"
        "logging:\n"
    )
    checked = run("check", "--config", str(config))
    assert checked.exit_code == 0, checked.output
    assert "configuration is valid" in checked.output
    assert "openai" in checked.output  # the built-in providers stand


def test_a_value_where_a_section_belongs_is_named_without_the_schemas_class_names(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, {"server": 5, "models": {"m": "cheap"}})
    checked = run("check", "--config", str(config))
    assert checked.exit_code == 2
    assert "server: must be a mapping of keys (got 5)" in checked.output
    assert "models.m: must be a mapping of keys (got 'cheap')" in checked.output
    assert "ServerConfig" not in checked.output and "ModelConfig" not in checked.output


@pytest.mark.parametrize(
    ("document", "key"),
    [
        # Each was used as written: a header sent upstream as `Bearer ${TOKEN}`, ...
        ({"providers": {"openai": {"type": "openai", "headers": {"X-Token": "Bearer ${TOKEN}"}}}},
         "providers.openai.headers.X-Token"),
        # ... or refused for what it is not ("url must start with redis://").
        ({"routing": {"fallback": {"circuit_breaker": {"store": {
            "type": "redis", "url": "${REDIS_URL:-redis://127.0.0.1:6379/0}"}}}}},
         "routing.fallback.circuit_breaker.store.url"),
    ],
)  # fmt: skip
def test_an_environment_reference_is_named_as_not_expanded(
    tmp_path: Path, document: dict[str, object], key: str
) -> None:
    config = write(tmp_path, document)
    refused_by_both(config, key, "is not expanded")
    checked = run("check", "--config", str(config))
    assert "(1 problem(s))" in checked.output, checked.output


def test_names_that_cannot_go_into_an_answers_headers_are_refused(tmp_path: Path) -> None:
    # Served, the line break wrote a header of its own into every answer
    # (x-switchpoint-provider: sim, then set-cookie: pwned=1); a name outside Latin-1
    # failed every answer it served.
    profiles = {
        "main": {"model": "m", "provider": "sim\r\nset-cookie: pwned=1", "max_context": 1000,
                 "cost_weight": 0.5, "fallbacks": ["d\u00e9j\u00e0-vu"]},
        "d\u00e9j\u00e0-vu": {"model": "m", "provider": "sim", "max_context": 1000,
                              "cost_weight": 0.5},
    }  # fmt: skip
    config = write(
        tmp_path,
        {
            "providers": {"sim\r\nset-cookie: pwned=1": {"type": "simulated"},
                          "sim": {"type": "simulated"}},
            "routing": {"default_profile": "main", "profiles": profiles},
        },
    )  # fmt: skip
    refused_by_both(config, "providers.'sim\\r\\nset-cookie: pwned=1'", "not usable as a name")
    checked = run("check", "--config", str(config))
    assert "routing.profiles.d\u00e9j\u00e0-vu: not usable as a name" in checked.output
    assert "routing.profiles.main.provider: not usable as a name" in checked.output
