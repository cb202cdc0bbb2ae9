"""What the summarizer model is asked: a clear instruction, then the transcript as text.

The transcript keeps everything a later turn may need (every message's text, tool calls
with their arguments, tool results) in a plain, vendor-neutral layout, and drops what
the summary cannot use: reasoning blocks (`Thinking`) and image data (an image shows as
`[image]` with a short digest, so that different images make different cache keys).
"""

from __future__ import annotations

import hashlib
import math

from switchpoint.chat.content import Image, Message, Text, Thinking, ToolCall, ToolResult
from switchpoint.context.plan import Chunk

# Part of every cache key: changing the instructions must not serve old summaries.
PROMPT_VERSION = "switchpoint-summary-v1"

CHUNK_INSTRUCTION = """\
You are compressing the earlier part of a conversation between a user and an AI \
assistant, including the assistant's tool calls and their results, so that the \
conversation can continue within a context limit. Write a faithful, dense summary of \
the transcript below.

Keep: the user's goals, requirements and constraints; decisions taken and why; facts \
established; names of files, functions, commands, URLs, identifiers and values that may \
be needed later; errors met and how they were resolved; the state of the work and what \
remains to be done. Drop: pleasantries, repetition, and raw tool output that no longer \
matters (keep its conclusions).

Do not invent anything. Do not address the user or the assistant. Write in the language \
of the conversation. Use at most {max_tokens} tokens.
"""

REDUCE_INSTRUCTION = """\
Below are summaries of consecutive parts of one conversation between a user and an AI \
assistant, oldest first. Merge them into a single summary that keeps every goal, \
decision, fact, identifier, error and open task they mention, in chronological order, \
without repeating anything and without inventing anything. Write in the language of \
the summaries. Use at most {max_tokens} tokens.
"""


def _image(image: Image) -> str:
    source = (image.data or image.url or "").encode()
    return f"[image {hashlib.sha256(source).hexdigest()[:12]}]"


def render_message(message: Message) -> str:
    lines = [f"[{message.role}]"]
    for block in message.content:
        if isinstance(block, Text):
            lines.append(block.text)
        elif isinstance(block, ToolCall):
            lines.append(f"[tool call {block.name} #{block.id}] {block.arguments}")
        elif isinstance(block, ToolResult):
            flag = " (error)" if block.is_error else ""
            lines.append(f"[tool result #{block.tool_call_id}{flag}]")
            lines.extend(
                part.text if isinstance(part, Text) else _image(part) for part in block.content
            )
        elif isinstance(block, Image):
            lines.append(_image(block))
        elif isinstance(block, Thinking):
            continue
    return "\n".join(lines)


def render_transcript(messages: list[Message], chunk: Chunk) -> str:
    """The transcript text of `chunk` (for a split unit, its `part` of `parts`)."""
    text = "\n\n".join(render_message(messages[i]) for unit in chunk.units for i in unit.messages)
    if chunk.parts == 1:
        return text
    return _part(text, chunk.part, chunk.parts)


def _part(text: str, part: int, parts: int) -> str:
    """Part `part` of `parts` near-equal slices of `text`, cut at line ends when one is
    near (so a line is rarely split), the same way every time."""
    size = math.ceil(len(text) / parts)

    def cut(position: int) -> int:
        if position <= 0 or position >= len(text):
            return max(0, min(position, len(text)))
        newline = text.rfind("\n", position - size // 4, position)
        return newline + 1 if newline >= 0 else position

    start, end = cut((part - 1) * size), cut(part * size)
    return f"(part {part} of {parts} of one long message)\n" + text[start:end]


def chunk_prompt(messages: list[Message], chunk: Chunk, max_tokens: int) -> str:
    first, last = chunk.first_message + 1, chunk.end_message
    return (
        CHUNK_INSTRUCTION.format(max_tokens=max_tokens)
        + f'\n<transcript messages="{first}-{last}">\n'
        + render_transcript(messages, chunk)
        + "\n</transcript>\n"
    )


def reduce_prompt(summaries: list[str], max_tokens: int) -> str:
    body = "\n\n".join(
        f'<summary part="{i}">\n{text}\n</summary>' for i, text in enumerate(summaries, 1)
    )
    return REDUCE_INSTRUCTION.format(max_tokens=max_tokens) + "\n" + body + "\n"
