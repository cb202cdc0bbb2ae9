import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import OpenAIFake
from tests.fakes.fixtures import *  # noqa: F403 - the fakes' fixtures


@pytest.fixture
def pair() -> Iterator[tuple[OpenAIFake, OpenAIFake]]:
    """Two fake OpenAI upstreams: the primary target and its fallback."""
    with OpenAIFake() as primary, OpenAIFake() as backup:
        yield primary, backup


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_pair(certificate: tuple[Path, Path]) -> Iterator[tuple[OpenAIFake, OpenAIFake]]:
    """The primary serves HTTPS; the backup plain HTTP."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    primary, backup = OpenAIFake(), OpenAIFake()
    primary.tls = context
    with primary, backup:
        yield primary, backup
