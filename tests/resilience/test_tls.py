"""Vendors are reached over TLS: a real handshake against a fake upstream serving HTTPS
with a certificate of its own. Its CA is trusted through the standard `SSL_CERT_FILE`
(as a company's own CA, or a TLS-inspecting egress proxy's, would be); without it the
certificate is refused, and the call fails over or ends in a clear 502, never a 500."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.fakes import OpenAIFake
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.test_retries import USER, ask, client
from tests.resilience.topology import KEYS, openai_pair


def test_a_vendor_is_reached_over_tls_and_its_connections_are_reused(
    tls_pair: tuple[OpenAIFake, OpenAIFake],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primary, backup = tls_pair
    assert primary.base_url.startswith("https://")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        for stream in (False, True, False, True):
            text, headers, _ = ask(gw, stream=stream)
            assert text == "Hello from gpt-a."
            assert headers["x-switchpoint-provider"] == "primary"
    assert primary.request_count() == 4 and backup.request_count() == 0
    # One TLS connection served them all: the pool keeps them across calls.
    assert len({request.peer for request in primary.requests}) == 1


def test_an_untrusted_certificate_fails_over_and_says_why(
    tls_pair: tuple[OpenAIFake, OpenAIFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, backup = tls_pair
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        text, headers, _ = ask(gw)
        assert text == "Hello from gpt-b."
        assert headers["x-switchpoint-fallback"] == "true"
    document = openai_pair(primary.base_url, backup.base_url)
    document["routing"]["profiles"]["main"]["fallbacks"] = []
    with GatewayThread(document, KEYS) as gw, pytest.raises(openai.APIStatusError) as caught:
        client(gw).chat.completions.create(model="main", messages=USER)
    assert caught.value.status_code == 502
    assert "certificate verify failed" in str(caught.value)
    assert primary.request_count() == 0


def test_a_ca_file_that_cannot_be_read_is_named_in_the_error(
    tls_pair: tuple[OpenAIFake, OpenAIFake], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, backup = tls_pair
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    document = openai_pair(primary.base_url, backup.base_url)
    document["routing"]["profiles"]["main"]["fallbacks"] = []
    # The client itself would read the variable too (httpx does): not here.
    unaffected = openai.DefaultHttpxClient(trust_env=False)
    with GatewayThread(document, KEYS) as gw, pytest.raises(openai.APIStatusError) as caught:
        client(gw, http_client=unaffected).chat.completions.create(model="main", messages=USER)
    assert caught.value.status_code == 502
    assert "cannot load the CA certificates of SSL_CERT_FILE=" in str(caught.value)
