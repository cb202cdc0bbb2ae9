"""Configuration files that cannot be read as intended: a clear error, never a
traceback or a silently different configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchpoint.config import ConfigError, load_config
from tests.cli.cli_run import run


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.source == str(path)
    return [str(problem) for problem in raised.value.problems]


def test_a_file_that_is_not_utf8_is_named_with_the_offending_byte(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"server:\n  port: 1\n\xff\xfe\x00bad")
    assert _problems(path) == ["not UTF-8 text (byte 0xff at offset 18)"]


@pytest.mark.parametrize("command", [("check",), ("serve",), ("report",), ("keys", "list")])
def test_commands_exit_2_on_a_non_utf8_config(tmp_path: Path, command: tuple[str, ...]) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    result = run(*command, "--config", str(path))
    assert result.exit_code == 2, result.output
    assert f"{path} is invalid" in result.stderr
    assert "not UTF-8 text (byte 0xff at offset 0)" in result.stderr


def test_a_section_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("server:\n  port: 1\nserver:\n  port: 2\n")
    assert _problems(path) == ["duplicate key 'server' (first given at line 1) at line 3, column 1"]


def test_a_nested_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("server:\n  port: 1\n  host: 127.0.0.1\n  port: 2\n")
    assert _problems(path) == ["duplicate key 'port' (first given at line 2) at line 4, column 3"]


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    # `<<: *anchor` then an explicit key is an override, not a duplicate; a mapping
    # merged twice (here `base`, through `mid`) is not one either.
    path = tmp_path / "merge.yaml"
    path.write_text(
        "routing:\n"
        "  profiles:\n"
        "    base: &base {model: gpt-5.5, provider: openai, max_context: 1000, cost_weight: 1}\n"
        "    mid: &mid {<<: *base, max_context: 2000}\n"
        "    top: {<<: *mid, cost_weight: 0.5}\n"
        "    again: *mid\n"
    )
    profiles = load_config(path).routing.profiles
    assert profiles["mid"].max_context == 2000
    assert (profiles["top"].max_context, profiles["top"].cost_weight) == (2000, 0.5)
    assert profiles["again"].max_context == 2000


def test_keys_that_differ_in_type_are_not_duplicates(tmp_path: Path) -> None:
    # 1 and "1" are different YAML keys (an int and a string): pydantic names the
    # problem, the loader does not call it a duplicate.
    path = tmp_path / "keys.yaml"
    path.write_text("models:\n  1: {}\n  '1': {}\n")
    assert not any("duplicate" in problem for problem in _problems(path))
