"""Waking an asyncio loop at a nanosecond deadline, without spinning.

uvloop (libuv) and epoll time out in whole milliseconds, so `asyncio.sleep` until a
send's intended time wakes up to a millisecond late, and how late depends on where the
other events (the target's answers) fall against the millisecond ticks: at 500
requests/s the send lag read 0.1 to 0.4 ms, different between targets and runs
(docs/performance.md). A Linux `timerfd` expires on the kernel's high-resolution
timers and becomes readable at once; the loop, woken by epoll, runs the waiter.
Spinning to the deadline would be as precise but takes the load core from the fake
upstream it shares.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import time

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_NS_PER_S = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.timerfd_settime.argtypes = [
    ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.c_void_p
]


class PreciseTimer:
    """One timer for one loop: `await timer.until(ns)` returns at `ns` on the
    `time.perf_counter_ns()` clock (CLOCK_MONOTONIC on Linux), some tens of µs late
    (the wake-up through epoll)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        fd = _libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        # perf_counter_ns and CLOCK_MONOTONIC share an origin on Linux; checked, not assumed.
        self._offset_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - time.perf_counter_ns()
        loop.add_reader(fd, self._fired)

    def _fired(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def until(self, deadline_ns: int) -> None:
        if time.perf_counter_ns() >= deadline_ns:
            return
        at = deadline_ns + self._offset_ns
        spec = _Itimerspec()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(at, _NS_PER_S)
        if _libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) < 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._waiter = self._loop.create_future()
        await self._waiter

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
