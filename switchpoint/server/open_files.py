"""The open-file limit, which caps how many calls a worker can carry.

Every call holds two file descriptors while it runs (the client's connection and the
upstream's), a stream for its whole length. Many systems start services with a soft
limit of 1024 under a far higher hard limit: about 480 concurrent streams, past which
new calls fail. The soft limit is raised to the hard one at start-up, as Go's runtime
does and nginx's `worker_rlimit_nofile` is for, and a limit still too low is reported.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("switchpoint")

# Descriptors a worker holds besides its calls': the listener, the event loop's own,
# idle pooled upstream connections, the ledger, Redis, log files.
RESERVED = 64
# Below this many concurrent calls the limit is worth a warning.
LOW_CONCURRENT_CALLS = 2000
# The kernel's default ceiling (fs.nr_open) when the hard limit is unlimited.
_UNLIMITED_TARGET = 1 << 20


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit: (the limit before, the limit now)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
        return soft, soft
    return soft, target


def concurrent_calls(limit: int) -> int:
    """About how many calls fit in `limit` open files."""
    return max(0, (limit - RESERVED) // 2)


def report_open_file_limit(before: int, now: int, max_in_flight: int | None) -> None:
    """Log the limit in force, and warn when it caps calls below what is configured or,
    without a configured cap, below `LOW_CONCURRENT_CALLS`."""
    calls = concurrent_calls(now)
    if now > before:
        log.info(
            "open-file limit raised from %d to %d (about %d concurrent calls)", before, now, calls
        )
    wanted = max_in_flight if max_in_flight is not None else LOW_CONCURRENT_CALLS
    if calls < wanted:
        what = (
            f"server.max_in_flight is {max_in_flight}"
            if max_in_flight is not None
            else "a busy gateway carries thousands"
        )
        log.warning(
            "the open-file limit (%d) leaves room for about %d concurrent calls per worker, "
            "and %s: raise the limit (LimitNOFILE, ulimit -n); past it, calls get a 503 "
            "or their connection is closed at once",
            now,
            calls,
            what,
        )
