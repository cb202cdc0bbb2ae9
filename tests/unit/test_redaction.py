"""What a provider says is scrubbed of secrets before a client or a log sees it; an error
code is passed on only when it has the shape of one (used for whole answers and for
errors inside a stream alike)."""

from __future__ import annotations

import pytest

from switchpoint.providers.redaction import Redactor

SECRET = "our-upstream-secret-123"


def test_the_key_and_key_shaped_text_are_redacted_from_messages() -> None:
    redact = Redactor([SECRET])
    said = redact(f"bad key {SECRET}; also sk-abcdefghijkl and AIza{'x' * 30}")
    assert SECRET not in said and "sk-abc" not in said and "AIza" not in said
    assert said.count("[redacted]") == 3


@pytest.mark.parametrize(
    "code", ["context_length_exceeded", "overloaded_error", "RESOURCE_EXHAUSTED", "a.b_c"]
)
def test_codes_of_the_usual_shape_pass(code: str) -> None:
    assert Redactor([SECRET]).code(code) == code


@pytest.mark.parametrize(
    "code",
    [SECRET, "sk-abcdefghijkl", "oursecret", "two words", "x" * 65, "", "_leading", None],
)
def test_anything_else_is_dropped(code: str | None) -> None:
    assert Redactor([SECRET, "oursecret"]).code(code) is None
