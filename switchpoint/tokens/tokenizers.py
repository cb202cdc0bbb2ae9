"""Which tokenizer a model bills with, and what is known about it.

OpenAI models are counted with their real BPE (`exact_encoding`). No offline tokenizer
exists here for Claude or Gemini, so their counts are o200k counts times a per-vendor
ratio whose default comes from public statements, with an uncertainty wide enough to
cover them; `Calibrator` then learns the true ratio from billed usage. What is measured
and what is assumed is spelled out per entry (`source`) and in docs/tokens.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from switchpoint.tokens.bpe import EncodingName

Family = Literal["openai", "anthropic", "google", "other"]


@dataclass(frozen=True, slots=True)
class ImageCost:
    """Tokens one image costs, as a range: its pixel size is not looked at."""

    low: int
    high: int
    # Midpoint and half-width, stored: read on every request.
    estimate: int = field(init=False)
    bound: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimate", (self.low + self.high) // 2)
        object.__setattr__(self, "bound", (self.high - self.low + 1) // 2)


@dataclass(frozen=True, slots=True)
class Tokenizer:
    family: Family
    # The BPE the vendor bills with (OpenAI), or None when it is not available offline.
    exact_encoding: EncodingName | None
    # Vendor tokens per o200k token, and the +- on it (both 1.0/0.0 for exact BPEs).
    ratio: float
    ratio_uncertainty: float
    image: ImageCost
    # Tokens the vendor adds when tools are declared (Anthropic's tool-use system prompt),
    # as a range.
    tools_prompt: ImageCost
    source: str

    @property
    def basis_encoding(self) -> EncodingName:
        """The BPE counts are made in before the vendor ratio applies."""
        return self.exact_encoding or "o200k_base"


_NO_TOOLS_PROMPT = ImageCost(0, 0)

# gpt-4o family tiles: 85 tokens (low detail) to 85 + 170 * 6 tiles (high detail, image
# scaled into 2048x768), per OpenAI's vision pricing guide.
_OPENAI_IMAGE = ImageCost(85, 1105)

# Claude: about width*height/750 tokens, images resized to <= 1.15 MP (~1,600 tokens)
# before Opus 4.7; from 4.7 on, up to 2576 px on the long edge (~4,784 tokens).
_CLAUDE_IMAGE = ImageCost(50, 1600)
_CLAUDE_IMAGE_HIGH_RES = ImageCost(50, 4784)
# Anthropic documents the tool-use system prompt at 159 to 530 tokens depending on the
# model and tool_choice (docs: tool use pricing and tokens).
_CLAUDE_TOOLS_PROMPT = ImageCost(150, 550)

# Gemini: 258 tokens per image up to 384 px or per 768x768 tile (Gemini 2.x), and about
# 1,100 at the default media resolution of Gemini 3.
_GEMINI_IMAGE = ImageCost(258, 1120)


def _openai(encoding: EncodingName) -> Tokenizer:
    return Tokenizer(
        family="openai",
        exact_encoding=encoding,
        ratio=1.0,
        ratio_uncertainty=0.0,
        image=_OPENAI_IMAGE,
        tools_prompt=_NO_TOOLS_PROMPT,
        source=f"exact: {encoding}, model mapping as tiktoken 0.14.0 model.py",
    )


# Claude up to Opus 4.6: a third-party measurement (Claude 3.5 Sonnet vs GPT-4o, May 2025)
# found 16% more tokens on English articles, 21% on math and 30% on Python code than
# o200k: 1.13..1.33 covers it with margin.
CLAUDE = Tokenizer(
    family="anthropic",
    exact_encoding=None,
    ratio=1.23,
    ratio_uncertainty=0.10,
    image=_CLAUDE_IMAGE,
    tools_prompt=_CLAUDE_TOOLS_PROMPT,
    source="assumed: 1.16-1.30x o200k (published measurement of Claude 3.5 vs GPT-4o)",
)

# Claude Opus 4.7 and later: Anthropic states its new tokenizer uses 1.0-1.35x the tokens
# of the previous one for the same text, so 1.16*1.0 .. 1.30*1.35 = 1.16..1.76.
CLAUDE_2026 = Tokenizer(
    family="anthropic",
    exact_encoding=None,
    ratio=1.46,
    ratio_uncertainty=0.30,
    image=_CLAUDE_IMAGE_HIGH_RES,
    tools_prompt=_CLAUDE_TOOLS_PROMPT,
    source="assumed: previous Claude ratio times Anthropic's stated 1.0-1.35x for Opus 4.7",
)

# Google says a Gemini token is about 4 characters and 100 tokens about 60-80 English
# words. On this repository's English prose o200k measures 4.76 characters and 1.22
# tokens per word, so those statements put Gemini at 1.03..1.37x o200k (1.19x by the
# characters rule); 1.0..1.4 covers them.
GEMINI = Tokenizer(
    family="google",
    exact_encoding=None,
    ratio=1.20,
    ratio_uncertainty=0.20,
    image=_GEMINI_IMAGE,
    tools_prompt=_NO_TOOLS_PROMPT,
    source="assumed: Google's 4 chars/token and 60-80 words/100 tokens, against o200k",
)

# Open models behind OpenAI-compatible servers. Measured on the estimator corpus with the
# Llama 3 and Qwen 2.5/3 vocabularies (tools/measure_open_model_ratios.py): Llama 3 is
# 0.995-1.23x o200k by category, Qwen 0.94-1.50x (one token per digit; other scripts).
# 0.94..1.50 is the band; other open tokenizers (Mistral, Gemma...) are not measured.
OTHER = Tokenizer(
    family="other",
    exact_encoding=None,
    ratio=1.22,
    ratio_uncertainty=0.28,
    image=ImageCost(85, 1600),
    tools_prompt=_NO_TOOLS_PROMPT,
    source="measured for Llama 3 / Qwen 3 on the corpus: 0.94-1.50x o200k",
)

# (prefix, encoding), longest match first. As tiktoken 0.14.0's model.py, plus the gpt-5.x
# names (prefix "gpt-5") and bare o-series names.
_OPENAI_PREFIXES: tuple[tuple[str, EncodingName], ...] = (
    ("ft:gpt-4o", "o200k_base"),
    ("ft:gpt-4", "cl100k_base"),
    ("ft:gpt-3.5-turbo", "cl100k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"),  # o200k_harmony: the same ranks, more special tokens
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada", "cl100k_base"),
    ("davinci-002", "cl100k_base"),
    ("babbage-002", "cl100k_base"),
)

_CLAUDE_VERSION = re.compile(r"claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2})(?!\d))?")


def openai_encoding(model: str) -> EncodingName | None:
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, encoding in _OPENAI_PREFIXES:
        if name.startswith(prefix):
            return encoding
    return None


def claude_version(model: str) -> tuple[int, int] | None:
    match = _CLAUDE_VERSION.search(model.lower())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


@lru_cache(maxsize=1024)
def tokenizer_for(model: str, provider_type: str) -> Tokenizer:
    """The tokenizer `model` bills with when served by a provider of `provider_type`.

    The provider type decides the vendor when it names one; for OpenAI-compatible and
    simulated providers the model name does (a proxy serving `gpt-4o` bills o200k).
    An OpenAI model name not in the table is counted with o200k, the encoding of every
    OpenAI chat model since gpt-4o; calibration would show it if that ever changed.
    """
    lowered = model.lower()
    encoding = openai_encoding(model)
    if provider_type == "openai" or provider_type == "openai_responses":
        return _openai(encoding or "o200k_base")
    if provider_type == "anthropic" or (provider_type != "google" and "claude" in lowered):
        version = claude_version(model)
        return CLAUDE_2026 if version is not None and version >= (4, 7) else CLAUDE
    if provider_type == "google" or "gemini" in lowered or "gemma" in lowered:
        return GEMINI
    if encoding is not None:
        return _openai(encoding)
    return OTHER
