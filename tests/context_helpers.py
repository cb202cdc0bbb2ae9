"""Small builders and a predictable sizer for the context tests."""

from __future__ import annotations

from switchpoint.chat.content import Message, Text, Thinking, ToolCall, ToolResult
from switchpoint.chat.request import Conversation


class WordSizer:
    """One token per word plus 4 per message: sizes a test can predict by eye."""

    def _words(self, message: Message) -> int:
        total = 0
        for block in message.content:
            if isinstance(block, (Text, Thinking)):
                total += len(block.text.split())
            elif isinstance(block, ToolCall):
                total += 1 + len(block.arguments.split())
            elif isinstance(block, ToolResult):
                total += sum(len(p.text.split()) for p in block.content if isinstance(p, Text))
        return total

    def message(self, message: Message) -> int:
        return 4 + self._words(message)

    def text(self, text: str) -> int:
        return len(text.split())

    def fixed(self, conversation: Conversation) -> int:
        return 3 + sum(len(p.text.split()) for p in conversation.system)


def words(n: int, word: str = "w") -> str:
    return " ".join([word] * n)


def user(n: int, *, keep: bool = False, word: str = "u") -> Message:
    return Message("user", [Text(words(n, word))], keep=keep)


def assistant(n: int, word: str = "a") -> Message:
    return Message("assistant", [Text(words(n, word))])


def tool_round(call_id: str, result_words: int) -> list[Message]:
    return [
        Message(
            "assistant", [Text("let me look"), ToolCall(call_id, "read_file", '{"path": "x"}')]
        ),
        Message("user", [ToolResult(call_id, [Text(words(result_words, "r"))])]),
    ]
