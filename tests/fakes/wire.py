"""Putting answers and faults on the wire with aiohttp.

Vendor modules decide *what* bytes to send; this module decides *how* they
leave: all at once, as a stream of SSE frames, cut, stalled, reset or not at
all. Every wait here also watches for the client hanging up and for the fake
shutting down, so no fault can keep a test (or the fake's thread) alive.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from tests.fakes.faults import (
    CutAfter,
    EndlessEvent,
    Fault,
    MissingSentinel,
    SlowFirstToken,
    StallAfter,
)
from tests.fakes.recording import RecordedRequest

FrameKind = Literal["content", "finish", "sentinel"]

_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class Frame:
    """One SSE event as bytes, tagged so faults can drop the right ones."""

    data: bytes
    kind: FrameKind = "content"


@dataclass(frozen=True)
class HttpReply:
    """A complete, non-streamed answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] | None = None
    chunked: bool = False


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def wait_client_or_close(
    request: web.Request,
    record: RecordedRequest,
    closing: asyncio.Event,
    seconds: float | None = None,
) -> bool:
    """Sleep up to ``seconds`` (forever if None). Returns False, marking the
    record, if the client hung up meanwhile; also returns False if the fake is
    shutting down; True when the full time passed."""
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    while True:
        if _client_gone(request):
            record.mark_disconnected()
            return False
        if closing.is_set():
            return False
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(_POLL_SECONDS, remaining))
        else:
            await asyncio.sleep(_POLL_SECONDS)


def reset_connection(request: web.Request) -> None:
    """Drop the connection with a TCP RST (linger 0), as a crashed peer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def close_connection(request: web.Request) -> None:
    """Close after flushing what was written, without finishing the HTTP body."""
    transport = request.transport
    if transport is not None:
        transport.close()


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(base)
    if extra:
        merged.update(extra)
    return merged


async def send_reply(
    request: web.Request,
    record: RecordedRequest,
    reply: HttpReply,
    *,
    base_headers: Mapping[str, str],
    fault: Fault | None,
    closing: asyncio.Event,
    header_delay: float,
) -> web.StreamResponse:
    """Send a whole body, honouring delay, cut and stall faults."""
    delay = header_delay
    if isinstance(fault, SlowFirstToken):
        delay += fault.delay
    if delay > 0 and not await wait_client_or_close(request, record, closing, delay):
        return _abandoned(request)

    headers = _merge_headers(base_headers, reply.headers)
    headers["Content-Type"] = reply.content_type
    resp = web.StreamResponse(status=reply.status, headers=headers)
    if not reply.chunked:
        resp.content_length = len(reply.body)
    try:
        await resp.prepare(request)
        record.status = reply.status
        if isinstance(fault, CutAfter | StallAfter):
            await resp.write(reply.body[: len(reply.body) // 2])
            if isinstance(fault, StallAfter):
                await wait_client_or_close(request, record, closing)
            close_connection(request)
            return resp
        if reply.chunked:
            for start in range(0, len(reply.body), 65536):
                await resp.write(reply.body[start : start + 65536])
        else:
            await resp.write(reply.body)
        await resp.write_eof()
    except ConnectionError:
        record.mark_disconnected()
    return resp


async def send_stream(
    request: web.Request,
    record: RecordedRequest,
    frames: Sequence[Frame],
    *,
    base_headers: Mapping[str, str],
    content_type: str,
    fault: Fault | None,
    closing: asyncio.Event,
    header_delay: float,
    first_event_delay: float,
    chunk_gap: float,
    invalid_frame: bytes | None = None,
    invalid_after: int = 0,
    error_frame: bytes | None = None,
    error_after: int = 0,
) -> web.StreamResponse:
    """Send SSE frames one write per frame, applying stream faults.

    ``invalid_frame`` is inserted after ``invalid_after`` frames and the stream
    goes on; ``error_frame`` is sent after ``error_after`` frames and the
    stream ends there, cleanly at the HTTP level.
    """
    if isinstance(fault, SlowFirstToken):
        if fault.stage == "headers":
            header_delay += fault.delay
        else:
            first_event_delay += fault.delay
    if isinstance(fault, MissingSentinel):
        dropped: set[FrameKind] = {"sentinel"} if fault.keep_finish else {"sentinel", "finish"}
        frames = [f for f in frames if f.kind not in dropped]

    # Cut and stall must always lose at least the last frame, or they would
    # silently degrade into a normal answer.
    stop_at: int | None = None
    if isinstance(fault, CutAfter | StallAfter):
        stop_at = max(0, min(fault.events, len(frames) - 1))

    if header_delay > 0 and not await wait_client_or_close(request, record, closing, header_delay):
        return _abandoned(request)

    headers = dict(base_headers)
    headers["Content-Type"] = content_type
    headers["Cache-Control"] = "no-cache"
    resp = web.StreamResponse(status=200, headers=headers)
    try:
        await resp.prepare(request)
        record.status = 200
        if first_event_delay > 0 and not await wait_client_or_close(
            request, record, closing, first_event_delay
        ):
            close_connection(request)
            return resp
        for index, frame in enumerate(frames):
            if index == stop_at:
                if isinstance(fault, StallAfter):
                    await wait_client_or_close(request, record, closing)
                close_connection(request)
                return resp
            if isinstance(fault, EndlessEvent) and index == fault.after:
                await _send_endless_event(resp, request, record, closing)
                return resp
            if invalid_frame is not None and index == invalid_after:
                await resp.write(invalid_frame)
            if error_frame is not None and index == error_after:
                await resp.write(error_frame)
                await resp.write_eof()
                return resp
            if (
                index > 0
                and chunk_gap > 0
                and not await wait_client_or_close(request, record, closing, chunk_gap)
            ):
                close_connection(request)
                return resp
            await resp.write(frame.data)
        if invalid_frame is not None and invalid_after >= len(frames):
            await resp.write(invalid_frame)
        if error_frame is not None and error_after >= len(frames):
            await resp.write(error_frame)
        await resp.write_eof()
    except ConnectionError:
        record.mark_disconnected()
    return resp


def _abandoned(request: web.Request) -> web.StreamResponse:
    """What a handler returns when the client left before anything was sent."""
    close_connection(request)
    return web.Response(status=499)


async def _send_endless_event(
    resp: web.StreamResponse,
    request: web.Request,
    record: RecordedRequest,
    closing: asyncio.Event,
) -> None:
    """An event that never ends, until the client leaves (or the fake shuts down)."""
    filler = b"x" * 65536
    await resp.write(b"data: ")
    while not closing.is_set():
        await resp.write(filler)
        if request.transport is None or request.transport.is_closing():
            break
    record.mark_disconnected()
    close_connection(request)
