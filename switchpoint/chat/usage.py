"""Token usage, normalised across vendors."""

from __future__ import annotations

from dataclasses import dataclass

# Rough characters per token, for what a vendor was sent or generated but never reported
# (a stream cut before its usage, a summarizer call abandoned): an estimate the ledger
# flags as one, not worth a count.
_CHARS_PER_TOKEN = 4


def tokens_from_chars(chars: int) -> int:
    """The tokens `chars` characters of text are estimated at (rounded up)."""
    return -(-chars // _CHARS_PER_TOKEN)


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them.

    `input_tokens` is the whole prompt, cached part included (OpenAI's convention);
    `cached_input_tokens` is the part read from the provider's prompt cache and
    `cache_write_tokens` the part written to it (Anthropic bills those separately);
    `reasoning_tokens` is the part of the output spent thinking, where the vendor says
    (0 when it does not).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
