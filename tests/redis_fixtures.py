"""Fixtures for tests of state kept in Redis: the local server (`.ci/run` starts it),
a key prefix of the test's own, and a Redis that hangs."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Awaitable, Iterator

import pytest
import redis

__all__ = ["REDIS_URL", "hung_redis", "redis_prefix", "timed"]

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"switchpoint-test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A listener whose backlog takes connections that are never read from."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


async def timed(action: Awaitable[object]) -> float:
    """Seconds `action` took."""
    started = time.monotonic()
    await action
    return time.monotonic() - started
