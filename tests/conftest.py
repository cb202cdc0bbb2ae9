"""Settings for the whole test suite."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _working_directory_outside_the_repository(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Gateways started with the default configuration keep their default ledger
    (`sqlite:///switchpoint-ledger.db`, in the working directory): run the tests from a
    temporary directory so it never lands in the repository. Subprocess tests set their
    own `cwd` (the repository root) as TEAM.md asks."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture
def collections_wait() -> Iterator[None]:
    """No garbage collection while the test runs, as between the rare ones of a server:
    what a connection lets go of only when it is collected shows as still held."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# Every upstream in the tests is on 127.0.0.1: a proxy set for the developer's own
# machine must not carry them (switchpoint honours these variables, as do the SDKs).
# The tests of egress through a proxy set them themselves.
for _name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)
