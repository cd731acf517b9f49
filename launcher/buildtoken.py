"""BinderHub-compatible build tokens: HS256 JWTs ``{"exp", "aud", "origin", "client",
"jti"}`` (stdlib only).

A ``/v2/`` page embeds a token for its ``<provider>/<spec>``. It is bound to the client
the page was served to (``client``: a keyed hash of the user or IP, never the IP itself)
and lives ``build_token_expires_seconds``. The page was counted against the client's rate
limit, so the token's first use on ``/build/`` is not counted again; any later use is
(:class:`launcher.limits.UsedTokens`), so no number of tokens buys more requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any


class BuildTokenError(ValueError):
    """Invalid, expired or misdirected token; the message is user-facing."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str) -> bytes:
    try:
        return bytes.fromhex(secret)
    except ValueError:
        return secret.encode("utf-8")


def encode(claims: dict[str, Any], secret: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(_key(secret), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def client_claim(secret: str, client: str) -> str:
    """The ``client`` claim for a client key (``user:<name>`` or ``ip:<address>``)."""
    return hmac.new(_key(secret), b"client:" + client.encode(), hashlib.sha256).hexdigest()[:32]


def decode(token: str, secret: str, audience: str, origin: str | None = None,
           now: float | None = None, client: str | None = None) -> dict[str, Any]:
    """Verify signature, ``exp``, ``aud`` (and ``origin``, ``client`` if given); return the claims."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 4096:
        raise BuildTokenError("Invalid build token: malformed")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except ValueError as err:
        raise BuildTokenError("Invalid build token: malformed") from err
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise BuildTokenError("Invalid build token: unsupported algorithm")
    expected = hmac.new(_key(secret), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise BuildTokenError("Invalid build token: bad signature")
    if float(claims.get("exp", 0)) < (now if now is not None else time.time()):
        raise BuildTokenError("Invalid build token: expired")
    if claims.get("aud") != audience:
        raise BuildTokenError("Invalid build token: issued for another repository")
    if origin is not None and claims.get("origin") != origin:
        raise BuildTokenError("Invalid build token: issued for another origin")
    if client is not None and not hmac.compare_digest(str(claims.get("client", "")),
                                                      client_claim(secret, client)):
        raise BuildTokenError("Invalid build token: issued to another client")
    return claims


def issue(secret: str, audience: str, origin: str, expires_in: int = 300, client: str = "") -> str:
    claims = {"exp": int(time.time()) + expires_in, "aud": audience, "origin": origin,
              "jti": secrets.token_urlsafe(12)}
    if client:
        claims["client"] = client_claim(secret, client)
    return encode(claims, secret)
