"""`switchpoint top`: a `--url` that cannot name a gateway is a usage error, not a
traceback; names in the gateway's snapshot are shown as they are, not read as markup."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from switchpoint.cli.top import SnapshotError, fetch_snapshot
from switchpoint.cli.top_view import render
from tests.cli.cli_run import run


@pytest.mark.parametrize(
    "url", ["not a url", "localhost:8080", "ftp://host", "http://", "http://[::1", "http://h:99999"]
)
def test_unusable_url_is_a_usage_error(url: str) -> None:
    result = run("top", "--url", url, "--once")
    assert result.exit_code == 2, result.output
    assert "is not a usable http:// or https:// URL" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_url_printed_in_a_usage_error_has_no_password() -> None:
    result = run("top", "--url", "ftp://admin:Hunter2@host", "--once")
    assert result.exit_code == 2
    assert "Hunter2" not in result.output


def test_credentials_in_the_url_are_a_usage_error_naming_the_key_variable() -> None:
    result = run("top", "--url", "http://admin:Hunter2@127.0.0.1:8080", "--once")
    assert result.exit_code == 2, result.output
    assert "--key-env" in result.output and "credentials" in result.output
    assert "Hunter2" not in result.output


def test_fetch_snapshot_turns_a_url_urllib_refuses_into_a_snapshot_error() -> None:
    with pytest.raises(SnapshotError, match="cannot use the URL"):
        fetch_snapshot("http://[::1", None)


def _snapshot(name: str) -> dict[str, Any]:
    """A gateway's snapshot in which every name a client or config chose is `name`."""
    call = {
        "at": 0.0,
        "workload": name,
        "model": name,
        "provider": name,
        "rules": [name],
        "fallback_reasons": [],
        "rationale": name,
        "status": "ok",
        "http_status": 200,
        "latency_ms": 12.0,
    }
    return {
        "version": "0",
        "uptime_s": 1.0,
        "bucket_s": 10,
        "in_flight": 0,
        "traffic": {"rps": [1.0, 1.0], "by_workload": {name: [1.0]}},
        "errors": [0],
        "latency": {name: {"p50_now_ms": 1.0, "p95_now_ms": 2.0, "attempts_now": 1, "p95_ms": []}},
        "breakers": {
            "targets": [{"provider": name, "model": name, "state": "closed", "since": None}],
            "transitions": [],
        },
        "fallback": {"rate_now": 0.0, "reasons": {name: 1}},
        "costs": {
            "since_start": [
                {
                    "workload": name,
                    "model": name,
                    "requests": 1,
                    "ok": 1,
                    "cost_usd": 0.1,
                    "cost_per_ok_usd": 0.1,
                }
            ]
        },
        "ledger": {
            "available": True,
            "database": "sqlite x",
            "queue_depth": 0,
            "dropped": 0,
            "by_workload": [
                {
                    "key": name,
                    "tasks": 1,
                    "completed_outcomes": 1,
                    "success_rate": 1.0,
                    "cost_usd": 0.1,
                    "cost_per_completed_outcome": 0.1,
                }
            ],
        },
        "recent": [call],
    }


def test_names_in_the_snapshot_are_shown_as_they_are() -> None:
    buffer = io.StringIO()
    url = "http://admin:Hunter2@127.0.0.1:8080"
    Console(file=buffer, width=300).print(render(_snapshot("[/x]"), url))
    text = buffer.getvalue()
    # Every table that shows a workload, provider, model or reason.
    assert text.count("[/x]") >= 8, text
    assert "Hunter2" not in text and "http://127.0.0.1:8080" in text
