"""Vendors reached through an egress proxy, as `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
ask: a CONNECT tunnel per pooled connection, TLS end to end inside it, the proxy's
credentials from its URL; a proxy that refuses or is down is a clear 502, never a 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from switchpoint.transport.egress_proxy import EgressProxy, connect_request, proxy_for
from switchpoint.transport.errors import ConnectError
from switchpoint.transport.origin import split_base_url
from tests.fakes import OpenAIFake
from tests.resilience.connect_proxy import ConnectProxy
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.test_retries import USER
from tests.resilience.topology import KEYS, openai_pair

P = "http://p:1"
PROXY_VARIABLES = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
)  # fmt: skip


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy() as running:
        yield running


def ask(gw: GatewayThread, *, stream: bool = False) -> str:
    # The SDK would take the proxy variables for itself too: not for the call to switchpoint.
    api = openai.OpenAI(
        base_url=gw.base_url,
        api_key="unused",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(trust_env=False),
    )
    if not stream:
        answer = api.chat.completions.create(model="main", messages=USER)
        return answer.choices[0].message.content or ""
    chunks = api.chat.completions.create(model="main", messages=USER, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def alone(primary_url: str, backup_url: str) -> dict[str, object]:
    document = openai_pair(primary_url, backup_url)
    document["routing"]["profiles"]["main"]["fallbacks"] = []
    return document


def test_a_tls_vendor_is_reached_through_a_connect_tunnel(
    tls_pair: tuple[OpenAIFake, OpenAIFake],
    certificate: tuple[Path, Path],
    proxy: ConnectProxy,
    clean_environment: pytest.MonkeyPatch,
) -> None:
    primary, backup = tls_pair
    clean_environment.setenv("SSL_CERT_FILE", str(certificate[0]))
    clean_environment.setenv("HTTPS_PROXY", f"http://team%2Fa:p%40ss@127.0.0.1:{proxy.port}")
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
        for stream in (False, True, False):
            assert ask(gw, stream=stream) == "Hello from gpt-a."
    # One tunnel carried the three calls (the pooled connection is the tunnel).
    assert [r["request"] for r in proxy.requests] == [f"CONNECT 127.0.0.1:{primary.port} HTTP/1.1"]
    credentials = base64.b64encode(b"team/a:p@ss").decode()
    assert proxy.requests[0]["proxy-authorization"] == f"Basic {credentials}"
    assert len({request.peer for request in primary.requests}) == 1


def test_a_plain_http_vendor_is_tunnelled_too_and_no_proxy_goes_direct(
    proxy: ConnectProxy, clean_environment: pytest.MonkeyPatch
) -> None:
    with OpenAIFake() as primary, OpenAIFake() as backup:
        clean_environment.setenv("http_proxy", proxy.url)
        with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
            assert ask(gw) == "Hello from gpt-a."
        assert [r["request"] for r in proxy.requests] == [
            f"CONNECT 127.0.0.1:{primary.port} HTTP/1.1"
        ]
        clean_environment.setenv("NO_PROXY", "localhost, 127.0.0.0/8")
        with GatewayThread(openai_pair(primary.base_url, backup.base_url), KEYS) as gw:
            assert ask(gw) == "Hello from gpt-a."
        assert len(proxy.requests) == 1


def test_a_proxy_that_refuses_is_a_clear_502(clean_environment: pytest.MonkeyPatch) -> None:
    with (
        ConnectProxy(refuse_with="407 Proxy Authentication Required") as refusing,
        OpenAIFake() as primary,
        OpenAIFake() as backup,
    ):
        clean_environment.setenv("HTTP_PROXY", refusing.url)
        with (
            GatewayThread(alone(primary.base_url, backup.base_url), KEYS) as gw,
            pytest.raises(openai.APIStatusError) as caught,
        ):
            ask(gw)
        assert primary.request_count() == 0
    assert caught.value.status_code == 502
    assert (
        f"through the egress proxy 127.0.0.1:{refusing.port}: it answered CONNECT with "
        "'HTTP/1.1 407 Proxy Authentication Required'"
    ) in str(caught.value)


def test_a_proxy_that_is_down_is_a_clear_502(clean_environment: pytest.MonkeyPatch) -> None:
    with OpenAIFake() as primary, OpenAIFake() as backup:
        clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        with (
            GatewayThread(alone(primary.base_url, backup.base_url), KEYS) as gw,
            pytest.raises(openai.APIStatusError) as caught,
        ):
            ask(gw)
    assert caught.value.status_code == 502
    assert "cannot connect to the egress proxy 127.0.0.1:9" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("https://api.openai.com/v1", {}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": "proxy:3128"}, EgressProxy("proxy", 3128)),
        ("http://10.0.0.5:8000/v1", {"HTTPS_PROXY": P}, None),
        ("http://10.0.0.5:8000/v1", {"http_proxy": P}, EgressProxy("p", 1)),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": P, "NO_PROXY": "*"}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": P, "no_proxy": ".openai.com"}, None),
        ("https://api.openai.com/v1", {"HTTPS_PROXY": P, "NO_PROXY": "openai.com"}, None),
        ("https://notopenai.com/v1", {"HTTPS_PROXY": P, "NO_PROXY": "openai.com"},
         EgressProxy("p", 1)),
        ("http://10.0.0.5:8000/v1", {"HTTP_PROXY": P, "NO_PROXY": "10.0.0.0/8"}, None),
        ("http://[::1]:8000/v1", {"HTTP_PROXY": P, "NO_PROXY": "::1"}, None),
    ],
)  # fmt: skip
def test_which_vendors_go_through_the_proxy(
    url: str, environ: dict[str, str], expected: EgressProxy | None
) -> None:
    assert proxy_for(split_base_url(url)[0], environ) == expected


def test_a_proxy_url_that_cannot_be_used_is_named() -> None:
    origin = split_base_url("https://api.openai.com/v1")[0]
    with pytest.raises(ConnectError, match="only http:// proxies are supported"):
        proxy_for(origin, {"HTTPS_PROXY": "socks5://proxy:1080"})


def test_the_connect_request_names_host_and_port_and_the_proxys_credentials() -> None:
    origin = split_base_url("https://[2001:db8::1]/v1")[0]
    request = connect_request(origin, EgressProxy("p", 1, "Basic dTpw"))
    assert request == (
        b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n"
        b"Proxy-Authorization: Basic dTpw\r\n\r\n"
    )
