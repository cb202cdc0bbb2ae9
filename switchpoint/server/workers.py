"""Several worker processes on one port (SO_REUSEPORT): the kernel spreads connections.

The parent only supervises: it forks the workers, restarts one that dies unexpectedly
(with a pause, so a crash loop cannot spin), and passes shutdown signals on. It gives
up, stopping the others and exiting 1, when restarting cannot help: a worker that could
not start at all (it exits with `EXIT_STARTUP_FAILED`, e.g. its port is taken), or one
that keeps dying (`_CRASH_LOOP_COUNT` times within `_CRASH_LOOP_WINDOW_S`). Workers ask
the kernel to stop them if the supervisor itself dies (Linux), so none outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable

log = logging.getLogger("switchpoint.workers")

# A worker exits with this when it cannot start (it cannot listen): every worker would
# fail alike, so the supervisor stops instead of restarting it.
EXIT_STARTUP_FAILED = 3

_RESTART_PAUSE_S = 1.0
# A worker slot that dies this often within the window is crash-looping (it dies within
# seconds of each start): stop, so the process manager sees the failure.
_CRASH_LOOP_COUNT = 5
_CRASH_LOOP_WINDOW_S = 30.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> bool:
    """Have the kernel send this process SIGTERM when its parent dies (Linux only); False
    if the parent (`parent`, its pid before forking) is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    # The parent may have died before the request was in place, and then no signal
    # comes: we would have been re-parented already.
    return os.getppid() == parent


class _CrashLoop:
    """Remembers when each worker slot died, to tell a crash loop from rare crashes."""

    def __init__(self, count: int, window_s: float) -> None:
        self._count = count
        self._window_s = window_s
        self._deaths: defaultdict[int, deque[float]] = defaultdict(deque)

    def died(self, index: int) -> bool:
        """Record a death of slot `index`; True if it now counts as a crash loop."""
        now = time.monotonic()
        deaths = self._deaths[index]
        deaths.append(now)
        while deaths and deaths[0] <= now - self._window_s:
            deaths.popleft()
        return len(deaths) >= self._count


def reserve_port(host: str) -> socket.socket:
    """A port the kernel picks, held (bound, never listening) for workers to listen on
    with SO_REUSEPORT: each worker asking for port 0 itself would get a port of its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, 0))
    except OSError:
        sock.close()
        raise
    return sock


def run_workers(
    count: int,
    worker_main: Callable[[int], None],
    on_orphaned: Callable[[], None] | None = None,
) -> int:
    """Run `count` workers and keep them running; the exit status. `on_orphaned` runs in
    a worker that ends after the supervisor died (killed: it could not clean up)."""
    children: dict[int, int] = {}
    stopping = False
    supervisor = os.getpid()

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                if die_with_parent(supervisor):
                    worker_main(index)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d crashed", index)
                code = 1
            finally:
                if on_orphaned is not None and os.getppid() != supervisor:
                    with contextlib.suppress(Exception):
                        on_orphaned()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index

    def stop_all() -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def forward(signum: int, _frame: object) -> None:
        stop_all()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(count):
        spawn(index)
    crashes = _CrashLoop(_CRASH_LOOP_COUNT, _CRASH_LOOP_WINDOW_S)
    status = 0
    failed = False
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        index = children.pop(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping:
            continue
        status = 1
        if code == EXIT_STARTUP_FAILED:
            log.error("worker %d (pid %d) could not start; stopping", index, pid)
        elif crashes.died(index):
            log.error(
                "worker %d (pid %d) exited with %d, %d times within %g s: a crash loop; stopping",
                index,
                pid,
                code,
                _CRASH_LOOP_COUNT,
                _CRASH_LOOP_WINDOW_S,
            )
        else:
            log.error("worker %d (pid %d) exited with %d; restarting", index, pid, code)
            time.sleep(_RESTART_PAUSE_S)
            if not stopping:
                spawn(index)
            continue
        failed = True
        stop_all()
    return 1 if failed else 0 if stopping else status
