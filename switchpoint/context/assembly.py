"""Rebuild a conversation with its older turns replaced by one marked summary message.

Order: the summary (a user message starting `[switchpoint: summary of N earlier messages
(T tokens)]`), then the kept units in their original order, then the recent window. The
system prompt, tools and every request setting are unchanged.

Putting units next to each other that were not neighbours can create two messages of
the same role in a row, which Anthropic merges silently and Gemini rejects. At each such
seam: two user messages are merged into one (the tool results of the first stay first,
as Anthropic requires); two assistant messages are merged too, unless the second starts
with reasoning (`Thinking` must open an assistant message), in which case a one-line user
note is put between them. Units never start with a tool result (see `units`), so no seam
can orphan one.
"""

from __future__ import annotations

from dataclasses import replace

from switchpoint.chat.content import Message, Text, Thinking, ToolCall, ToolResult
from switchpoint.chat.request import Conversation
from switchpoint.context.plan import CompressionPlan

SEAM_NOTE = "[switchpoint: earlier messages omitted here]"


def summary_header(messages: int, tokens: int) -> str:
    return f"[switchpoint: summary of {messages} earlier messages ({tokens} tokens)]"


def summary_message(text: str, plan: CompressionPlan) -> Message:
    header = summary_header(len(plan.summarized), plan.summarized_tokens)
    return Message("user", [Text(f"{header}\n\n{text}")])


def _join(first: Message, second: Message) -> list[Message]:
    """`first` and `second` (same role, adjacent only after compression) as valid messages."""
    if first.role == "assistant" and second.content and isinstance(second.content[0], Thinking):
        return [first, Message("user", [Text(SEAM_NOTE)]), second]
    return [Message(first.role, [*first.content, *second.content], keep=first.keep or second.keep)]


def assemble(conversation: Conversation, plan: CompressionPlan, summary: str) -> Conversation:
    original = conversation.messages
    out: list[Message] = [summary_message(summary, plan)]
    previous_index = -2
    for index in plan.kept:
        message = original[index]
        if index != previous_index + 1 and out and out[-1].role == message.role:
            out[-1:] = _join(out[-1], message)
        else:
            out.append(message)
        previous_index = index
    return replace(conversation, messages=out)


def role_problems(conversation: Conversation) -> list[str]:
    """What would make Anthropic or Gemini refuse the conversation (empty: valid):
    the first message is not the user's, roles do not alternate, a tool result does not
    answer a call of the assistant message just before it, or a call before the last
    message has no result in the message just after it."""
    problems: list[str] = []
    messages = conversation.messages
    if messages and messages[0].role != "user":
        problems.append("the first message is not a user message")
    for i, message in enumerate(messages):
        if i and message.role == messages[i - 1].role:
            problems.append(f"messages {i - 1} and {i} are both {message.role}")
        results = {b.tool_call_id for b in message.content if isinstance(b, ToolResult)}
        if results:
            before = messages[i - 1] if i else None
            calls = (
                {b.id for b in before.content if isinstance(b, ToolCall)}
                if before is not None and before.role == "assistant"
                else set()
            )
            if not results <= calls:
                problems.append(f"message {i} has tool results without their calls")
        calls_here = {b.id for b in message.content if isinstance(b, ToolCall)}
        if calls_here and i + 1 < len(messages):
            answered = {
                b.tool_call_id for b in messages[i + 1].content if isinstance(b, ToolResult)
            }
            if not calls_here <= answered:
                problems.append(f"message {i} has tool calls without results")
    return problems
