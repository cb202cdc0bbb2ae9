"""Counting a request before routing: as little as the decision needs.

Three levels, cheapest first (`docs/context.md` has the figures):

1. **Small** (`ContextMeter.small`): a body of at most `small_bytes` bytes of ASCII
   text (no image, document or other media part) cannot come near any limit of any
   configured profile (see `_ceiling`), so nothing is tallied or scanned: its size is
   its length in bytes over 4.8, times each vendor's ratio (a rough figure, 0.7 to 1.5
   times the o200k count on chat bodies: such a request is far from every limit, and
   the number is only reported). About a microsecond, what the old quick estimate cost.
2. **Counted** (`ContextMeter.measure`): the request is tallied and scanned once
   (`TokenCounter.prepare`, its large texts through the piece cache), counted for an
   o200k reference, and, when that proves every profile far from its limits, counted for
   other profiles only as routing asks (arithmetic over the scan).
3. **Refined**: when the request may be near a limit (the threshold or some profile's
   context), every available profile is counted with its boundaries, so that the BPE
   settles whatever the estimate's error bound leaves open, in a worker thread
   (`count_async`), before routing looks at the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.routing.registry import Profile, Registry
from switchpoint.tokens.counter import PreparedRequest, TokenCount, TokenCounter
from switchpoint.tokens.tokenizers import Tokenizer, tokenizer_for

# Content parts that hold only text (a tool result only if its content does).
_TEXT_PARTS: Final = frozenset({"text", "input_text", "output_text", "refusal", "tool_use"})
# o200k tokens (estimate, upper end of its bound) one body byte can stand for: text is at
# most one token a byte, its estimate's bound adds a quarter, framing (messages, tool
# calls, schemas) well under a token per 20 bytes of JSON.
_BASIS_PER_BYTE: Final = 2
# What is not proportional to bytes: Anthropic's tool-use prompt (<= 550 tokens).
_BASIS_CONSTANT: Final = 600
# Bytes of a chat body per o200k token, for the small level's rough figure (measured on
# chat bodies of 0.3 to 18 KB: 0.7 to 1.5 times the exact count).
_BYTES_PER_TOKEN: Final = 4.8
# Calibration may scale a vendor's count by up to 3 (`Calibrator.max_factor`), and its
# measured bound may widen the upper end: room for both.
_CALIBRATION_ROOM: Final = 6.0
# The o200k model the reference count is made for.
_REFERENCE: Final = ("gpt-4o", "openai")


class ContextMeter:
    def __init__(
        self,
        counter: TokenCounter,
        registry: Registry,
        provider_types: Mapping[str, str],
        output_limits: Mapping[str, int | None] | None = None,
    ) -> None:
        """`output_limits`: each model's `output_limit_tokens`, to which a larger
        `max_tokens` is capped when sent (so only that much is reserved on it)."""
        self.counter = counter
        self.registry = registry
        self.threshold = registry.reliability_threshold
        self.provider_types = dict(provider_types)
        available = [p for p in registry.profiles.values() if p.available]
        # The smallest limit routing compares a request with.
        self.min_boundary = min(
            [self.threshold, *(p.max_context for p in available)], default=self.threshold
        )
        # How many times its o200k count any available profile may bill a request.
        self.factor = max(
            [self._worst_factor(self.spec(p)) for p in available], default=_CALIBRATION_ROOM
        )
        largest_basis = self.min_boundary / self.factor - _BASIS_CONSTANT
        self.small_bytes = max(0, int(largest_basis / _BASIS_PER_BYTE))
        # Vendor tokens per o200k token, by profile (read on every small request).
        self.ratios = {name: self.spec(p).ratio for name, p in registry.profiles.items()}
        limits = output_limits or {}
        self.output_limits = {name: limits.get(p.model) for name, p in registry.profiles.items()}

    def reserve(self, profile: Profile, output: int) -> int:
        """The answer's tokens a request asking for `output` takes from `profile`'s
        context (see `ContextSize.reserved`)."""
        limit = self.output_limits.get(profile.name)
        return output if limit is None else min(output, limit)

    def spec(self, profile: Profile) -> Tokenizer:
        return tokenizer_for(profile.model, self.provider_types.get(profile.provider, "openai"))

    @staticmethod
    def _worst_factor(spec: Tokenizer) -> float:
        if spec.exact_encoding is not None:
            return 1.0
        return (spec.ratio + spec.ratio_uncertainty) * _CALIBRATION_ROOM

    def _ceiling(self, basis_upper: int) -> int:
        """A size no available profile's count can exceed, from an o200k upper bound."""
        return math.ceil((basis_upper + _BASIS_CONSTANT) * self.factor)

    # Level 1 ----------------------------------------------------------------------------
    def small(self, body: dict[str, Any], raw: bytes, output: int = 0) -> SmallSize | None:
        """The size of a small text-only body from its length, or None when it must be
        counted (also when its answer's `output` tokens may not leave it far from every
        limit)."""
        if len(raw) > self.small_bytes or not raw.isascii() or not _text_only(body):
            return None
        if output and self._ceiling(len(raw) * _BASIS_PER_BYTE) + output > self.min_boundary:
            return None
        return SmallSize(self, len(raw), output)

    # Levels 2 and 3 -----------------------------------------------------------------------
    async def measure(self, request: ChatRequest, output: int = 0) -> CountedSize:
        """`output`: the answer's tokens the client asked for (`max_tokens`)."""
        prepared = self.counter.prepare(request)
        reference = prepared.count(model=_REFERENCE[0], provider_type=_REFERENCE[1])
        ceiling = self._ceiling(reference.upper)
        size = CountedSize(self, prepared, ceiling, output)
        if not size.everywhere:
            await size.refine()
        return size

    def holds(self, conversation: Conversation, profile: Profile, reserved_output: int) -> bool:
        """Whether `profile`'s model takes `conversation` with room for `reserved_output`
        tokens of answer, on the upper end of the count (CPU-bound: the BPE settles a
        count near the limit)."""
        limit = profile.max_context - reserved_output
        if limit <= 0:
            return False
        count = self.counter.count_conversation(
            conversation,
            model=profile.model,
            provider_type=self.provider_types.get(profile.provider, "openai"),
            provider=profile.provider,
            boundaries=(limit,),
        )
        return count.upper <= limit

    def count_profile(
        self, prepared: PreparedRequest, profile: Profile, boundaries: tuple[int, ...] = ()
    ) -> TokenCount:
        return prepared.count(
            model=profile.model,
            provider_type=self.provider_types.get(profile.provider, "openai"),
            provider=profile.provider,
            boundaries=boundaries,
        )


class SmallSize:
    """A small body's size (level 1): every profile holds it (see `ContextMeter.small`)."""

    __slots__ = ("_bytes", "_meter", "_output")
    everywhere = True

    def __init__(self, meter: ContextMeter, body_bytes: int, output: int = 0) -> None:
        self._meter = meter
        self._bytes = body_bytes
        self._output = output

    def tokens(self, profile: Profile) -> int:
        return round(self._bytes * self._meter.ratios[profile.name] / _BYTES_PER_TOKEN)

    def fits(self, profile: Profile, limit: int) -> bool:
        reserved = self.reserved(profile)
        if not reserved and limit >= self._meter.min_boundary:
            return True
        return self._meter._ceiling(self._bytes * _BASIS_PER_BYTE) + reserved <= limit

    def reserved(self, profile: Profile) -> int:
        return self._meter.reserve(profile, self._output) if self._output else 0


def _text_only(body: dict[str, Any]) -> bool:
    """Whether every message (and an Anthropic system prompt) holds only text."""
    messages = body.get("messages")
    if messages.__class__ is not list:
        return messages is None and _items_text_only(body.get("input"))
    for message in messages:
        content = message.get("content") if message.__class__ is dict else None
        if content.__class__ is not str and content is not None and not _text_parts(content):
            return False
    system = body.get("system")
    return system is None or system.__class__ is str or _text_parts(system)


def _text_parts(parts: object) -> bool:
    if parts.__class__ is not list:
        return False
    for part in parts:
        if part.__class__ is not dict:
            return False
        kind = part.get("type")
        if kind.__class__ is not str or kind not in _TEXT_PARTS:
            inner = part.get("content")
            if kind != "tool_result" or not (inner.__class__ is str or _text_parts(inner)):
                return False
    return True


def _items_text_only(items: object) -> bool:
    """An OpenAI Responses `input`: a string, or items whose content (a message's) or
    output (a function call's) holds only text. Function calls and replayed reasoning
    are text, and `instructions` is a string."""
    if items.__class__ is str:
        return True
    if items.__class__ is not list:
        return False
    for item in items:
        if item.__class__ is not dict:
            return False
        for key in ("content", "output"):
            parts = item.get(key)
            if parts is not None and parts.__class__ is not str and not _text_parts(parts):
                return False
    return True


class CountedSize:
    """A counted request's size (levels 2 and 3), per profile, memoized."""

    __slots__ = ("_counts", "_meter", "_output", "ceiling", "everywhere", "prepared")

    def __init__(
        self, meter: ContextMeter, prepared: PreparedRequest, ceiling: int, output: int = 0
    ) -> None:
        self._meter = meter
        self.prepared = prepared
        # No available profile's count exceeds this.
        self.ceiling = ceiling
        self._output = output
        self.everywhere = ceiling + output <= meter.min_boundary
        self._counts: dict[str, TokenCount] = {}

    async def refine(self) -> None:
        """Count every available profile against its limits, refining with the BPE (in a
        worker thread) wherever the estimate alone cannot tell."""
        meter = self._meter
        for profile in meter.registry.profiles.values():
            if not profile.available or profile.name in self._counts:
                continue
            self._counts[profile.name] = await self.prepared.count_async(
                model=profile.model,
                provider_type=meter.provider_types.get(profile.provider, "openai"),
                provider=profile.provider,
                boundaries=(
                    meter.threshold,
                    profile.max_context,
                    profile.max_context - self.reserved(profile),
                ),
            )

    def count(self, profile: Profile) -> TokenCount:
        count = self._counts.get(profile.name)
        if count is None:
            # Not refined: this profile is far from its limits (or unavailable), so the
            # estimate answers every question routing asks.
            count = self._counts[profile.name] = self._meter.count_profile(self.prepared, profile)
        return count

    def tokens(self, profile: Profile) -> int:
        return self.count(profile).tokens

    def fits(self, profile: Profile, limit: int) -> bool:
        limit -= self.reserved(profile)
        if self.ceiling <= limit:
            return True
        return self.count(profile).upper <= limit

    def reserved(self, profile: Profile) -> int:
        return self._meter.reserve(profile, self._output) if self._output else 0
