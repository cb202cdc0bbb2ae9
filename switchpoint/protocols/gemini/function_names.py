"""Function names Gemini refuses, and the names it is given instead.

Gemini takes a function name of at most 64 characters that starts with a letter or an
underscore, of letters, digits, `_`, `.` and `-` (its newer docs allow `:` too, Vertex's
do not). Anthropic takes 128 characters
and a leading digit or dash (agents' MCP tools are named `mcp__<server>__<tool>`, often
longer than 64), so a tool of a client of another protocol may have a name Gemini
refuses with a 400 for the whole request. Such a name goes to Gemini as an alias made
from it alone (so that every turn of a conversation, and every worker, gives the same
one), and the calls Gemini makes under the alias reach the client under the tool's name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from switchpoint.chat.content import ToolSpec

_ACCEPTED = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_REFUSED_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_LENGTH = 64
_DIGEST_LENGTH = 8


def gemini_name(name: str) -> str:
    """`name` if Gemini takes it, else its alias: the name's characters Gemini takes
    (cut to fit), then a digest of the whole name, which keeps two names that differ
    only in what was cut or replaced apart."""
    if _ACCEPTED.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_DIGEST_LENGTH]
    kept = _REFUSED_CHARS.sub("_", name)
    if not kept[:1].isalpha():
        kept = "_" + kept
    return f"{kept[: _MAX_LENGTH - _DIGEST_LENGTH - 1]}_{digest}"


def original_names(tools: Iterable[ToolSpec]) -> dict[str, str]:
    """The tools' names by the alias Gemini knows them by, for those given one."""
    names = {}
    for tool in tools:
        alias = gemini_name(tool.name)
        if alias != tool.name:
            names[alias] = tool.name
    return names
