"""Counting a request before routing: as little as the decision needs.

Three levels, cheapest first (`docs/context.md` has the figures):

1. **Raw** (`ContextMeter.raw`): a body of at most `small_bytes` bytes with no media
   cannot come near any limit of any configured profile (see `_ceiling`), so nothing is
   tallied: its size is the character-class estimate of the raw body (one C pass, its
   JSON syntax included: a slight over-estimate), times each vendor's ratio. About 1 µs
   for a 1 KB request, what the old quick estimate cost.
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
from typing import Final

from switchpoint.chat.request import ChatRequest
from switchpoint.routing.registry import Profile, Registry
from switchpoint.tokens import charclass
from switchpoint.tokens.counter import PreparedRequest, TokenCount, TokenCounter
from switchpoint.tokens.tokenizers import Tokenizer, tokenizer_for

# A body holding any of these may carry media, priced per item whatever its bytes: such
# a body is always tallied.
_MEDIA_MARKERS: Final = (b"image", b"document", b'"file', b"audio", b"video")
# o200k tokens (estimate, upper end of its bound) one body byte can stand for: text is at
# most one token a byte, its estimate's bound adds a quarter, framing (messages, tool
# calls, schemas) well under a token per 20 bytes of JSON.
_BASIS_PER_BYTE: Final = 2
# What is not proportional to bytes: Anthropic's tool-use prompt (<= 550), and one part
# of an unknown type priced as an image (<= 4,784 tokens for Claude Opus 4.7+).
_BASIS_CONSTANT: Final = 6_000
# Calibration may scale a vendor's count by up to 3 (`Calibrator.max_factor`), and its
# measured bound may widen the upper end: room for both.
_CALIBRATION_ROOM: Final = 6.0
# The o200k model the reference count is made for.
_REFERENCE: Final = ("gpt-4o", "openai")


class ContextMeter:
    def __init__(
        self, counter: TokenCounter, registry: Registry, provider_types: Mapping[str, str]
    ) -> None:
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
    def raw(self, body: bytes) -> RawSize | None:
        """The size of a small body from its bytes, or None when it must be counted."""
        if len(body) > self.small_bytes:
            return None
        for marker in _MEDIA_MARKERS:
            if marker in body:
                return None
        return RawSize(self, charclass.units_of_bytes(body))

    # Levels 2 and 3 -----------------------------------------------------------------------
    async def measure(self, request: ChatRequest) -> CountedSize:
        prepared = self.counter.prepare(request)
        reference = prepared.count(model=_REFERENCE[0], provider_type=_REFERENCE[1])
        ceiling = self._ceiling(reference.upper)
        size = CountedSize(self, prepared, ceiling)
        if ceiling > self.min_boundary:
            await size.refine()
        return size

    def count_profile(
        self, prepared: PreparedRequest, profile: Profile, boundaries: tuple[int, ...] = ()
    ) -> TokenCount:
        return prepared.count(
            model=profile.model,
            provider_type=self.provider_types.get(profile.provider, "openai"),
            provider=profile.provider,
            boundaries=boundaries,
        )


class RawSize:
    """A small body's size (level 1): every profile holds it (see `ContextMeter.raw`)."""

    __slots__ = ("_meter", "_units")

    def __init__(self, meter: ContextMeter, units: int) -> None:
        self._meter = meter
        self._units = units

    def tokens(self, profile: Profile) -> int:
        return round(self._units * self._meter.spec(profile).ratio / charclass.SCALE)

    def fits(self, profile: Profile, limit: int) -> bool:
        if limit >= self._meter.min_boundary:
            return True
        basis = self._units * _BASIS_PER_BYTE // charclass.SCALE + 1
        return self._meter._ceiling(basis) <= limit

    def count(self, profile: Profile) -> TokenCount | None:
        return None


class CountedSize:
    """A counted request's size (levels 2 and 3), per profile, memoized."""

    __slots__ = ("_counts", "_meter", "ceiling", "prepared")

    def __init__(self, meter: ContextMeter, prepared: PreparedRequest, ceiling: int) -> None:
        self._meter = meter
        self.prepared = prepared
        # No available profile's count exceeds this.
        self.ceiling = ceiling
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
                boundaries=(meter.threshold, profile.max_context),
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
        if self.ceiling <= limit:
            return True
        return self.count(profile).upper <= limit
