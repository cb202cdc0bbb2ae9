"""The numbers in a provider's context-length error: how long it found the prompt, and
its limit, in its own tokens.

They tell how far switchpoint's own count was off for that model, so a summarized retry
can aim below the provider's real limit rather than ours. Vendors' wordings:

* OpenAI: "This model's maximum context length is 128000 tokens. However, your messages
  resulted in 130512 tokens." (or "you requested 9000 tokens (8000 in the messages, 1000
  in the completion)");
* Anthropic: "prompt is too long: 210000 tokens > 200000 maximum", or, when the prompt
  and `max_tokens` together exceed it, "input length and `max_tokens` exceed context
  limit: 188240 + 21333 > 200000";
* Gemini: "The input token count (1048577) exceeds the maximum number of tokens allowed
  (1048576)."
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Overflow:
    prompt_tokens: int
    limit: int
    # Output tokens the provider counted against the same limit (OpenAI says so).
    completion_tokens: int = 0

    @property
    def prompt_limit(self) -> int:
        """What the prompt may take, in the provider's tokens."""
        return max(1, self.limit - self.completion_tokens)


_NUMBER = r"(\d[\d,]*)"
_PATTERNS = (
    re.compile(
        rf"maximum context length is {_NUMBER} tokens.*?(?:resulted in|requested) {_NUMBER} "
        rf"tokens(?: \({_NUMBER} in the messages)?",
        re.IGNORECASE | re.DOTALL,
    ),
    re.compile(rf"prompt is too long: {_NUMBER} tokens > {_NUMBER}", re.IGNORECASE),
    re.compile(rf"exceed context limit: {_NUMBER} \+ {_NUMBER} > {_NUMBER}", re.IGNORECASE),
    re.compile(
        rf"input token count \({_NUMBER}\) exceeds the maximum number of tokens allowed "
        rf"\({_NUMBER}\)",
        re.IGNORECASE,
    ),
)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def parse_overflow(message: str) -> Overflow | None:
    openai, anthropic, anthropic_with_answer, gemini = _PATTERNS
    match = openai.search(message)
    if match is not None:
        limit, total, in_messages = match.groups()
        if in_messages is None:
            return Overflow(_int(total), _int(limit))
        return Overflow(_int(in_messages), _int(limit), _int(total) - _int(in_messages))
    match = anthropic_with_answer.search(message)
    if match is not None:
        prompt, answer, limit = match.groups()
        return Overflow(_int(prompt), _int(limit), _int(answer))
    for pattern in (anthropic, gemini):
        match = pattern.search(message)
        if match is not None:
            prompt, limit = match.groups()
            return Overflow(_int(prompt), _int(limit))
    return None
