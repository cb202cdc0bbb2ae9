from collections.abc import Iterator

import pytest

from tests.fakes import OpenAIFake
from tests.fakes.fixtures import *  # noqa: F403 - the fakes' fixtures


@pytest.fixture
def pair() -> Iterator[tuple[OpenAIFake, OpenAIFake]]:
    """Two fake OpenAI upstreams: the primary target and its fallback."""
    with OpenAIFake() as primary, OpenAIFake() as backup:
        yield primary, backup
