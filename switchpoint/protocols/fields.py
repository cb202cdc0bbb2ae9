"""Typed reads of JSON fields that fail with a client error naming the field."""

from __future__ import annotations

from typing import Any

from switchpoint.errors import invalid_request

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
}


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect(value: object, kind: type, param: str) -> Any:
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise invalid_request(
            f"'{param}' must be {_TYPE_NAMES.get(kind, kind.__name__)}, got {_describe(value)}",
            param,
        )
    return value


def optional(body: dict[str, Any], key: str, kind: type, param: str | None = None) -> Any:
    value = body.get(key)
    if value is None:
        return None
    return expect(value, kind, param or key)


def required(body: dict[str, Any], key: str, kind: type, param: str | None = None) -> Any:
    if key not in body or body[key] is None:
        raise invalid_request(f"'{param or key}' is required", param or key)
    return expect(body[key], kind, param or key)


def keep_mark(item: dict[str, Any], flag: str, param: str) -> bool:
    """switchpoint's own mark asking that a message survive compression (`flag`,
    `switchpoint_keep`): a boolean, so that `"false"` cannot keep a message."""
    return optional(item, flag, bool, f"{param}.{flag}") is True


def optional_number(
    body: dict[str, Any], key: str, *, low: float | None = None, high: float | None = None
) -> float | None:
    value = optional(body, key, float)
    if value is None:
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid_request(f"'{key}' must be between {low} and {high}, got {value}", key)
    return float(value)


def optional_positive_int(body: dict[str, Any], key: str) -> int | None:
    value = optional(body, key, int)
    if value is not None and value < 1:
        raise invalid_request(f"'{key}' must be at least 1, got {value}", key)
    return value  # type: ignore[no-any-return]
