"""What the gateway says at start-up about its open-file limit."""

from __future__ import annotations

import logging

import pytest

from switchpoint.server.open_files import concurrent_calls, report_open_file_limit


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_a_raised_limit_is_logged_with_the_calls_it_holds(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchpoint"):
        report_open_file_limit(1024, 65536, None)
    assert messages(caplog, logging.INFO) == [
        "open-file limit raised from 1024 to 65536 (about 32736 concurrent calls)"
    ]
    assert messages(caplog, logging.WARNING) == []


def test_a_limit_below_the_configured_cap_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchpoint"):
        report_open_file_limit(8192, 8192, 5000)
    (warning,) = messages(caplog, logging.WARNING)
    assert "about 4064 concurrent calls" in warning
    assert "server.max_in_flight is 5000" in warning
    assert messages(caplog, logging.INFO) == []


def test_a_low_limit_is_a_warning_even_without_a_cap(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchpoint"):
        report_open_file_limit(1024, 1024, None)
    (warning,) = messages(caplog, logging.WARNING)
    assert "open-file limit (1024)" in warning
    assert "about 480 concurrent calls" in warning


def test_a_cap_the_limit_holds_needs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchpoint"):
        report_open_file_limit(4096, 4096, 1000)
    assert caplog.records == []


def test_calls_never_go_negative() -> None:
    assert concurrent_calls(10) == 0
    assert concurrent_calls(1064) == 500
