"""The id_token check against tokens a test-side signer makes, and against tokens the real
local OpenID Provider issues (honest, and for users it is told to misbehave for)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from launcher.login.idtoken import IdTokenError, UnknownKey, verify_id_token
from tests.harness.oidc import Provider, authorize

ISSUER = "https://op.example"
CLIENT = "hub"


def _keypair(kid: str) -> tuple[Any, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


KEY, JWK = _keypair("k1")
OTHER_KEY, OTHER_JWK = _keypair("k1")   # same kid, another key
JWKS = {"keys": [JWK]}


def token(key: Any = KEY, kid: str | None = "k1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "alice", "iat": now, "exp": now + 300,
            **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid} if kid else None)


def check(tok: Any, jwks: dict[str, Any] = JWKS) -> dict[str, Any]:
    return verify_id_token(tok, jwks, issuer=ISSUER, client_id=CLIENT)


def test_a_good_token() -> None:
    assert check(token())["sub"] == "alice"
    assert check(token(aud=[CLIENT, "other"], azp=CLIENT))["sub"] == "alice"
    assert check(token(kid=None))["sub"] == "alice"   # one key: no kid needed


@pytest.mark.parametrize("make, message", [
    (lambda: token(key=OTHER_KEY), "signature is not valid"),
    (lambda: token(exp=int(time.time()) - 120), "has expired"),
    (lambda: token(aud="another-application"), "issued for another application"),
    (lambda: token(aud=[CLIENT, "other"]), "issued for another application"),  # no azp
    (lambda: token(iss="https://evil.example"), "issued by another provider"),
    (lambda: token(iat=int(time.time()) + 3600), "issued in the future"),
    (lambda: token(sub=None), "not valid"),
    (lambda: token(exp=None), "not valid"),
    (lambda: jwt.encode({"iss": ISSUER, "aud": CLIENT, "sub": "a", "iat": 1, "exp": 2 ** 40},
                        None, algorithm="none"), "algorithm 'none'"),
    # the public key used as an HMAC secret (algorithm confusion)
    (lambda: jwt.encode({"iss": ISSUER, "aud": CLIENT, "sub": "a"}, b"s" * 32,
                        algorithm="HS256"), "algorithm 'HS256'"),
    (lambda: "not.a.jwt", "not a signed JWT"),
    (lambda: "", "sent no id_token"),
    (lambda: None, "sent no id_token"),
])
def test_bad_tokens_are_refused_with_the_reason(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(IdTokenError, match=message):
        check(make())


def test_unknown_key_is_told_apart_for_a_key_refresh() -> None:
    with pytest.raises(UnknownKey):
        check(token(kid="rotated"))
    with pytest.raises(IdTokenError, match="no usable signing keys"):
        check(token(), {"keys": [{"kty": "nonsense"}]})


MISBEHAVING = {
    "honest": {"name": "H"},
    "eve-signature": {"name": "E1", "misbehave": "wrong-signature"},
    "eve-expired": {"name": "E2", "misbehave": "expired"},
    "eve-audience": {"name": "E3", "misbehave": "wrong-audience"},
}


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.harness.oidc import start_provider

    provider = start_provider(tmp_path_factory.mktemp("oidc"), hub_url="http://127.0.0.1:9/",
                              users=MISBEHAVING)
    yield provider
    provider.stop()


@pytest.mark.parametrize("user, message", [
    ("honest", ""),
    ("eve-signature", "signature is not valid"),
    ("eve-expired", "has expired"),
    ("eve-audience", "issued for another application"),
])
def test_tokens_of_the_real_provider(op: Provider, user: str, message: str) -> None:
    jwks = requests.get(op.issuer + "/jwks", timeout=10).json()
    tok = authorize(op, user, op.passwords[user])["id_token"]
    if not message:
        assert verify_id_token(tok, jwks, issuer=op.issuer, client_id="jupyterhub")["sub"] == user
        return
    with pytest.raises(IdTokenError, match=message):
        verify_id_token(tok, jwks, issuer=op.issuer, client_id="jupyterhub")
