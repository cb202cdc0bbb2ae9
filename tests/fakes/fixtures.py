"""Pytest fixtures for the fake upstreams.

Use them from a conftest with ``from tests.fakes.fixtures import *`` (or
``pytest_plugins = ["tests.fakes.fixtures"]`` in the top-level conftest).
Every fixture is function-scoped: each test gets a fresh fake with no queued
faults, no recordings and default settings, so tests cannot leak into each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_fake import AnthropicFake
from tests.fakes.gemini_fake import GeminiFake
from tests.fakes.openai_fake import OpenAIFake
from tests.fakes.ports import closed_port

__all__ = ["anthropic_fake", "gemini_fake", "openai_fake", "refused_port"]


@pytest.fixture
def openai_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def anthropic_fake() -> Iterator[AnthropicFake]:
    with AnthropicFake() as fake:
        yield fake


@pytest.fixture
def gemini_fake() -> Iterator[GeminiFake]:
    with GeminiFake() as fake:
        yield fake


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port where connections are refused, held for the test."""
    with closed_port() as port:
        yield port
