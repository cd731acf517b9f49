"""Self-test of the OpenID Provider harness: discovery, the login form, a restart."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
import requests

from tests.harness.oidc import Provider, authorize

USERS = {"alice": {"name": "Alice", "eduperson_entitlement": ["urn:x:group:g#a"]}}


def test_login_tokens_and_restart(provider_factory: Callable[..., Provider]) -> None:
    op = provider_factory(hub_url="http://127.0.0.1:9/", users=USERS)
    meta = requests.get(op.issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == op.issuer
    assert meta["end_session_endpoint"].startswith(op.issuer)
    assert op.setup.config.stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in op.setup.users.values())
    with pytest.raises(RuntimeError, match="did not come back"):
        authorize(op, "alice", "not-the-password")
    tokens = authorize(op, "alice", op.passwords["alice"])
    kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    info = requests.get(op.issuer + "/me", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["eduperson_entitlement"] == ["urn:x:group:g#a"]
    op.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(op.issuer + "/jwks", timeout=5)
    op.start()  # same port, same signing key
    assert [k["kid"] for k in requests.get(op.issuer + "/jwks", timeout=10).json()["keys"]] \
        == [kid]
