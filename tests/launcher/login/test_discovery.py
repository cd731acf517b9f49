"""The discovery document's checks (pure) and the cached provider client (real provider)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from launcher.login.discovery import (
    BadProviderConfig,
    Provider,
    ProviderUnavailable,
    check_endpoint,
    parse_discovery,
)
from tests.harness.hub import free_port
from tests.harness.oidc import Provider as OP

ISSUER = "https://login.example.org/oidc"
DOC: dict[str, Any] = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/authorize",
    "token_endpoint": ISSUER + "/token",
    "userinfo_endpoint": ISSUER + "/userinfo",
    "jwks_uri": ISSUER + "/jwks",
    "end_session_endpoint": ISSUER + "/end-session",
    "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
}


def test_a_complete_document() -> None:
    meta = parse_discovery(DOC, ISSUER)
    assert meta.token_endpoint == ISSUER + "/token"
    assert meta.end_session_endpoint == ISSUER + "/end-session"
    assert meta.revocation_endpoint == ""
    assert meta.algorithms == ("RS256",)   # HS256 and none are never accepted


@pytest.mark.parametrize("change, message", [
    ({"issuer": "https://evil.example"}, "calls itself"),
    ({"token_endpoint": None}, "token_endpoint is missing"),
    ({"jwks_uri": "http://login.example.org/jwks"}, "not an https URL"),
    ({"userinfo_endpoint": "javascript:alert(1)"}, "not an https URL"),
    ({"end_session_endpoint": "ftp://x/"}, "not an https URL"),
    ({"id_token_signing_alg_values_supported": ["HS256"]}, "no accepted algorithm"),
])
def test_a_document_that_contradicts_the_configuration(change: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(BadProviderConfig, match=message):
        parse_discovery({**DOC, **change}, ISSUER)
    with pytest.raises(BadProviderConfig, match="not a JSON object"):
        parse_discovery(["x"], ISSUER)


@pytest.mark.parametrize("url, ok", [
    ("https://a.example/x", True), ("http://localhost:9000/x", True),
    ("http://127.0.0.1/x", True), ("http://[::1]:1/", True),
    ("http://a.example/x", False), ("http://10.0.0.1/x", False), ("/relative", False),
])
def test_http_only_on_loopback(url: str, ok: bool) -> None:
    if ok:
        assert check_endpoint(url, "x") == url
    else:
        with pytest.raises(BadProviderConfig):
            check_endpoint(url, "x")


async def test_real_provider_cached_and_down(provider_factory: Callable[..., OP]) -> None:
    op = provider_factory(hub_url="http://127.0.0.1:9/", users={"a": {"name": "A"}})
    client = Provider(op.issuer, timeout=3)
    meta = await client.metadata()
    assert meta.issuer == op.issuer and meta.revocation_endpoint
    assert (await client.jwks())["keys"][0]["kty"] == "RSA"
    op.stop()
    assert await client.metadata() is meta          # cached: no request
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        await client.metadata(refresh=True)
    gone = Provider(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ProviderUnavailable, match=r"login service at 127\.0\.0\.1:\d+ cannot"):
        await gone.metadata()
