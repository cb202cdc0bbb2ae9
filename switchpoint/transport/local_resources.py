"""Telling the gateway's own exhaustion apart from the upstream's failure.

A connect that fails because this process is out of file descriptors (EMFILE), the
system is (ENFILE), no local port is free (EADDRNOTAVAIL) or the kernel is short of
socket memory (ENOBUFS, ENOMEM) says nothing about the provider. Counted as the
provider's failure it would open the provider's circuit breaker, and every call would be
refused for the open period: a local overload turned into an outage of every provider in
the chain, one after the other.
"""

from __future__ import annotations

import errno
import logging
import resource

from switchpoint.log_throttle import LogThrottle
from switchpoint.transport.errors import LocalResourcesExhausted

log = logging.getLogger("switchpoint.transport")

LOCAL_ERRNOS = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.ENOMEM}
)


def local_exhaustion(
    exc: OSError, target: str, throttle: LogThrottle
) -> LocalResourcesExhausted | None:
    """The error to raise when `exc` (from opening a connection to `target`) is the
    gateway's own exhaustion, logged at most every so often; None otherwise."""
    if exc.errno not in LOCAL_ERRNOS:
        return None
    reason = exc.strerror or str(exc)
    count = throttle.due()
    if count is not None:
        log.error(
            "cannot open a connection to %s: %s (%s); %d such failure(s) since the last line",
            target,
            reason,
            _remedy(exc.errno),
            count,
        )
    return LocalResourcesExhausted(
        f"switchpoint cannot open a connection to {target}: {reason} (the gateway's own "
        "limit, not the provider's); retry shortly"
    )


def _remedy(code: int | None) -> str:
    if code == errno.EMFILE:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return (
            f"this process's open-file limit is {soft}: raise it (LimitNOFILE, ulimit -n) "
            "or cap concurrent calls with server.max_in_flight"
        )
    if code == errno.ENFILE:
        return "the system's open-file table is full (fs.file-max)"
    if code == errno.EADDRNOTAVAIL:
        return "no local port is free: too many connections opened and closed"
    return "the kernel is short of socket memory"
