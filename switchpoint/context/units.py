"""A conversation cut into units: runs of messages that must be kept or dropped together.

A unit starts at every message except one that carries tool results, which belongs to the
unit of the message before it (transitively). So an assistant message with tool calls and
the message(s) holding their results are one unit, and compression can never leave a tool
result without its call, or a call without its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchpoint.chat.content import Message, ToolResult


@dataclass(frozen=True, slots=True)
class Unit:
    start: int  # index of its first message
    end: int  # index after its last message
    tokens: int
    # A message in it was marked `switchpoint_keep`: it survives compression verbatim.
    keep: bool

    @property
    def messages(self) -> range:
        return range(self.start, self.end)


def has_tool_results(message: Message) -> bool:
    return any(isinstance(block, ToolResult) for block in message.content)


def units_of(messages: Sequence[Message], sizes: Sequence[int]) -> list[Unit]:
    units: list[Unit] = []
    start = 0
    for index in range(1, len(messages) + 1):
        if index == len(messages) or not has_tool_results(messages[index]):
            units.append(
                Unit(
                    start=start,
                    end=index,
                    tokens=sum(sizes[start:index]),
                    keep=any(messages[i].keep for i in range(start, index)),
                )
            )
            start = index
    return units
