"""`summarization_strategy`: what to do with a request too large for its profile.

A request exceeds its profile when its count for that profile's model is above the
reliability threshold, or the upper end of the count is above the model's context.
Then, by the strategy in force (the request's `X-Switchpoint-Context-Strategy`, else the
profile's, else `routing.context`'s):

* `hierarchical`: the earlier turns are summarized to fit `budget` tokens of the same
  profile (`context_summarized`), if the conversation has earlier turns to summarize
  (the gateway plans it before routing: `CompressionOutlook`). If it has none (one huge
  message, or only a token count), the `none` behaviour applies.
* `none`: the seed's behaviour, the context guard and context fit rules move it.
* `reject`: a clear error (`context_rejected`).

`summarization_fallback` names the move made when a summarization was planned but
failed (the summarizer failed, timed out or answered nothing).
"""

from __future__ import annotations

from switchpoint.routing.context_size import ContextSize
from switchpoint.routing.registry import Profile, Registry

SUMMARIZED = "context_summarized"
REJECTED = "context_rejected"
FALLBACK = "summarization_fallback"


def exceeds(registry: Registry, profile: Profile, size: ContextSize) -> bool:
    return size.tokens(profile) > registry.reliability_threshold or not size.fits(
        profile, profile.max_context
    )


def budget(registry: Registry, profile: Profile, reserved_output: int) -> int:
    """What a summarized request may take on `profile`: its context less the reply's
    reservation, and no more than the reliability threshold."""
    return max(1, min(registry.reliability_threshold, profile.max_context - reserved_output))
