"""Tool-call arguments: JSON text internally, a JSON object on Anthropic's and Gemini's wire."""

from __future__ import annotations

from typing import Any

import orjson


def arguments_object(arguments: str) -> dict[str, Any]:
    """The arguments as an object. Text that is not a JSON object (a model that produced
    broken JSON, or one cut off by max_tokens) becomes `{}`: the vendors accept nothing
    else, and the stop reason still tells the client the answer was cut."""
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def finished_arguments(arguments: str) -> str:
    """A finished call's arguments as a JSON text: a call to a parameterless tool may
    come with none at all (`""` from several OpenAI-compatible servers), which is not
    JSON, and clients parse this field as JSON; OpenAI itself sends `{}`. Appended, not
    replaced, so that what was streamed stays a prefix of it."""
    return arguments if arguments and not arguments.isspace() else arguments + "{}"


def arguments_text(value: object) -> str:
    """An object's arguments as the JSON text the internal shape carries."""
    if value is None:
        return "{}"
    return orjson.dumps(value).decode()
