"""How large a request is, as routing asks: per profile, since vendors count differently.

A Claude model bills a text at 1.2-1.5 times its o200k tokens, so "does it fit?" has a
different answer per profile. Routing stays pure: the gateway counts the request before
`resolve` (`switchpoint.compaction.measure`) and hands it a `ContextSize`, which answers
from numbers already computed (or, for the few profiles not counted yet, with the
estimate alone: arithmetic over a scan done once).

* `tokens(profile)`: the central estimate in that profile's model's tokens; compared with
  the reliability threshold (a soft limit) and reported.
* `fits(profile, limit)`: whether the upper end of the estimate's error bound, and the
  answer's `reserved(profile)` tokens, are within `limit`; used for every hard limit (a
  model's context): an overflow is worse than a detour.
* `reserved(profile)`: the output tokens the client asked for (`max_tokens`, within that
  model's output limit), which OpenAI and Anthropic count against the same context:
  they refuse a prompt that leaves less room than that.

`UniformSize` is a bare token count (the client's `X-Switchpoint-Context-Tokens`, or
`switchpoint route --tokens N`): the same number for every profile, no error bound.
`CompressedSize` is a request after summarization to `budget` tokens of one profile.
`DeclaredSize` is a request with a body whose client also declared its size: the
declaration may raise the gateway's own count, never lower it (budgets reserve from it,
and a model too small for the request must never get it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from switchpoint.routing.registry import Profile


class ContextSize(Protocol):
    @property
    def everywhere(self) -> bool:
        """True when the request is known to be under the threshold and within every
        available profile's context (a small request): no context rule can fire, and
        routing skips asking (the common case, on every request)."""
        ...

    def tokens(self, profile: Profile) -> int: ...

    def fits(self, profile: Profile, limit: int) -> bool: ...

    def reserved(self, profile: Profile) -> int: ...


# Not frozen: made on every routing of a bare count, and a frozen __init__ is slower.
@dataclass(slots=True)
class UniformSize:
    value: int
    everywhere: bool = False

    def tokens(self, profile: Profile) -> int:
        return self.value

    def fits(self, profile: Profile, limit: int) -> bool:
        return self.value <= limit

    def reserved(self, profile: Profile) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class CompressedSize:
    """`original` compressed to at most `budget` tokens of `profile`: other profiles are
    sized in proportion to their own count of the original (same content, other
    tokenizer)."""

    original: ContextSize
    profile: Profile
    budget: int
    everywhere: bool = False

    def tokens(self, profile: Profile) -> int:
        if profile.name == self.profile.name:
            return self.budget
        base = max(1, self.original.tokens(self.profile))
        return -(-self.budget * self.original.tokens(profile) // base)

    def fits(self, profile: Profile, limit: int) -> bool:
        return self.tokens(profile) <= limit - self.original.reserved(profile)

    def reserved(self, profile: Profile) -> int:
        return self.original.reserved(profile)


@dataclass(frozen=True, slots=True)
class DeclaredSize:
    """`measured`, but at least `declared` tokens for every profile."""

    measured: ContextSize
    declared: int
    everywhere: bool = False

    def tokens(self, profile: Profile) -> int:
        return max(self.declared, self.measured.tokens(profile))

    def fits(self, profile: Profile, limit: int) -> bool:
        return self.declared + self.reserved(profile) <= limit and self.measured.fits(
            profile, limit
        )

    def reserved(self, profile: Profile) -> int:
        return self.measured.reserved(profile)
