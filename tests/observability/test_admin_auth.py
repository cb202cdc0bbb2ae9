"""The master key in front of /metrics, /ui and the dashboard's data."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from switchpoint.ingress.admin_auth import SESSION_COOKIE, AdminAuth, cookie_value
from switchpoint.keys.master_key import MasterKey
from switchpoint.server.background import BackgroundServer
from switchpoint.server.request import Request
from tests.fakes import OpenAIFake
from tests.observability.stack import gateway_config, http_get, running_gateway

MASTER = "sp-master-0123456789"


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def guarded(openai_fake: OpenAIFake, backup_fake: OpenAIFake) -> Iterator[BackgroundServer]:
    config = gateway_config(openai_fake, backup_fake)
    with running_gateway(config, {"SWITCHPOINT_MASTER_KEY": MASTER}) as server:
        yield server


def post_form(server: BackgroundServer, path: str, form: dict[str, str], **headers: str) -> Any:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request(
        "POST",
        path,
        body=urllib.parse.urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded", **headers},
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.parametrize("path", ["/metrics", "/ui/api/snapshot"])
def test_data_endpoints_reject_a_missing_or_wrong_key_alike(
    guarded: BackgroundServer, path: str
) -> None:
    url = guarded.base_url + path
    missing = http_get(url)
    wrong = http_get(url, {"authorization": "Bearer sp-master-012345678X"})
    other_style = http_get(url, {"x-api-key": "nope"})
    assert missing[0] == wrong[0] == other_style[0] == 401
    # Same message whatever was (or was not) sent: nothing to learn about the key.
    assert missing[2] == wrong[2] == other_style[2]
    error = orjson.loads(missing[2])["error"]
    assert error["type"] == "authentication_error"
    assert MASTER not in missing[2].decode()
    assert http_get(url, {"authorization": f"Bearer {MASTER}"})[0] == 200
    assert http_get(url, {"x-api-key": MASTER})[0] == 200


def test_the_page_asks_for_the_key_and_a_login_sets_a_session_cookie(
    guarded: BackgroundServer,
) -> None:
    status, headers, body = http_get(guarded.base_url + "/ui")
    assert status == 401
    assert headers["content-type"].startswith("text/html")
    assert b'action="/ui/login"' in body and b"snapshot" not in body
    bad = post_form(guarded, "/ui/login", {"key": "wrong"})
    assert bad.status == 401 and bad.getheader("set-cookie") is None
    good = post_form(guarded, "/ui/login", {"key": MASTER})
    assert good.status == 303 and good.getheader("location") == "/ui"
    cookie = good.getheader("set-cookie")
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and MASTER not in cookie
    session = cookie.split(";", 1)[0]
    status, headers, body = http_get(guarded.base_url + "/ui", {"cookie": session})
    assert status == 200 and b"dashboard.js" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert http_get(guarded.base_url + "/ui/api/snapshot", {"cookie": session})[0] == 200
    forged = f"{SESSION_COOKIE}=" + "0" * 64
    assert http_get(guarded.base_url + "/ui/api/snapshot", {"cookie": forged})[0] == 401
    assert "Max-Age=43200" in cookie and "Secure" not in cookie
    # Behind a TLS-terminating proxy the cookie is for HTTPS only.
    proxied = post_form(guarded, "/ui/login", {"key": MASTER}, **{"x-forwarded-proto": "https"})
    assert "; Secure" in proxied.getheader("set-cookie")


def test_a_session_expires_and_its_expiry_cannot_be_moved() -> None:
    # Found by a security probe: the cookie was a fixed value, good until the key changed.
    master = MasterKey(MASTER)
    token = master.new_session(now=1_000_000.0)
    expires, _, mac = token.partition(".")
    assert int(expires) == 1_000_000 + 12 * 3600
    assert master.session_matches(token, now=1_000_000.0 + 12 * 3600 - 1)
    assert not master.session_matches(token, now=1_000_000.0 + 12 * 3600)
    later = str(int(expires) + 86_400)
    assert not master.session_matches(f"{later}.{mac}", now=1_000_000.0)
    assert not MasterKey("another key").session_matches(token, now=1_000_000.0)
    for malformed in ("", ".", mac, f"x{expires}.{mac}", f"{expires}.", f"-5.{mac}"):
        assert not master.session_matches(malformed, now=1_000_000.0)
    assert not MasterKey(None).session_matches(MasterKey(None).new_session(), now=0.0)


def test_static_assets_carry_no_data_and_are_served_locally(guarded: BackgroundServer) -> None:
    status, headers, body = http_get(guarded.base_url + "/ui/assets/dashboard.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"http://" not in body.replace(b"http://www.w3.org/2000/svg", b"")
    assert b"https://" not in body
    assert http_get(guarded.base_url + "/ui/assets/secret.py")[0] == 404
    assert http_get(guarded.base_url + "/ui/assets/..%2f..%2fgateway.py")[0] == 404


def test_without_a_master_key_everything_is_open(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        assert http_get(server.base_url + "/metrics")[0] == 200
        assert http_get(server.base_url + "/ui")[0] == 200
        assert http_get(server.base_url + "/ui/api/snapshot")[0] == 200


def test_public_metrics_and_switched_off_parts(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, backup_fake, observability={"public_metrics": True})
    with running_gateway(config, {"SWITCHPOINT_MASTER_KEY": MASTER}) as server:
        assert http_get(server.base_url + "/metrics")[0] == 200
        assert http_get(server.base_url + "/ui/api/snapshot")[0] == 401
    config = gateway_config(
        openai_fake, backup_fake, observability={"metrics": False, "dashboard": False}
    )
    with running_gateway(config) as server:
        assert http_get(server.base_url + "/metrics")[0] == 404
        assert http_get(server.base_url + "/ui")[0] == 404


def _request(headers: dict[bytes, bytes]) -> Request:
    return Request("GET", "/metrics", "", headers, b"", "127.0.0.1:1", "1.1")


def test_admin_auth_checks() -> None:
    auth = AdminAuth(MasterKey(MASTER))
    assert auth.enabled
    assert auth.allows(_request({b"authorization": f"Bearer {MASTER}".encode()}))
    assert not auth.allows(_request({b"authorization": f"Basic {MASTER}".encode()}))
    assert not auth.allows(_request({b"authorization": f"Bearer {MASTER}x".encode()}))
    assert not auth.allows(_request({}))
    session = auth.new_session()
    assert auth.allows(_request({b"cookie": f"a=b; {SESSION_COOKIE}={session}".encode()}))
    assert MASTER not in session
    assert AdminAuth(MasterKey("another key")).new_session() != session
    assert not auth.key_matches("") and auth.key_matches(MASTER)
    open_auth = AdminAuth(MasterKey(None))
    assert not open_auth.enabled and open_auth.allows(_request({}))
    assert not open_auth.key_matches("")
    assert cookie_value("x=1; y = 2", "y") == "2" and cookie_value(None, "y") is None
    # Whitespace around the key in the environment is not part of it.
    assert MasterKey(f"  {MASTER}\n").matches(MASTER) and not MasterKey("   ").set


def test_readiness_details_are_for_the_master_key_only(guarded: BackgroundServer) -> None:
    url = guarded.base_url + "/readyz"
    status, _, body = http_get(url)
    # A load balancer gets the status; provider names, key variables and breaker
    # states are not for anyone who can reach the port.
    assert status == 200
    assert orjson.loads(body) == {"status": "ready"}
    assert b"SP_TEST" not in body
    status, _, body = http_get(url, {"authorization": f"Bearer {MASTER}"})
    assert status == 200
    details = orjson.loads(body)
    assert details["status"] == "ready"
    assert {"main", "backup"} <= {p["name"] for p in details["providers"]}
    assert isinstance(details["breakers"], list)
