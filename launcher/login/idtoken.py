"""The id_token check (pure): signature against the provider's keys, issuer, audience,
expiry (OpenID Connect Core 1.0 §3.1.3.7).

oauthenticator 17 does not verify id_tokens (it reads user data from the userinfo
endpoint, or decodes the id_token without checking its signature), so
:class:`~launcher.login.authenticator.OIDCAuthenticator` calls :func:`verify_id_token`
on every token response of a login.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

#: asymmetric algorithms accepted for id_token signatures (never ``none`` or HS*)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")


class IdTokenError(Exception):
    """An id_token that must not be trusted; the message is safe to show to the user."""


class UnknownKey(IdTokenError):
    """Signed with a key the provider's key set does not (yet) list."""


def _key_for(header: dict[str, Any], jwks: dict[str, Any]) -> Any:
    try:
        keyset = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as e:
        raise IdTokenError("the provider publishes no usable signing keys") from e
    kid = header.get("kid")
    candidates = [k for k in keyset.keys if k.public_key_use in (None, "sig")
                  and (kid is None or k.key_id == kid)]
    if len(candidates) != 1:
        raise UnknownKey("the id_token is signed with a key the provider does not publish")
    return candidates[0].key


def verify_id_token(token: Any, jwks: dict[str, Any], *, issuer: str, client_id: str,
                    algorithms: tuple[str, ...] = ALGORITHMS, leeway: float = 30.0,
                    ) -> dict[str, Any]:
    """The claims of *token*, or :class:`IdTokenError` saying what is wrong with it.

    Checks: a JWS with an allowed asymmetric algorithm, signed by a key of *jwks*
    (matched by ``kid``); ``iss`` = *issuer*; *client_id* in ``aud`` (and ``azp`` =
    *client_id* when there are several audiences); ``exp`` in the future and ``iat``
    not in the future (within *leeway* seconds); ``sub`` present.
    """
    if not isinstance(token, str) or not token:
        raise IdTokenError("the provider sent no id_token (is the 'openid' scope requested?)")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise IdTokenError("the id_token is not a signed JWT") from e
    alg = header.get("alg")
    if alg not in algorithms:
        raise IdTokenError(f"the id_token uses the signing algorithm {alg!r}, which is "
                           "not accepted")
    key = _key_for(header, jwks)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], audience=client_id, issuer=issuer,
            leeway=leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"],
                                    "verify_iat": False})
    except jwt.InvalidSignatureError as e:
        raise IdTokenError("the id_token's signature is not valid") from e
    except jwt.ExpiredSignatureError as e:
        raise IdTokenError("the id_token has expired") from e
    except jwt.InvalidAudienceError as e:
        raise IdTokenError("the id_token was issued for another application") from e
    except jwt.InvalidIssuerError as e:
        raise IdTokenError("the id_token was issued by another provider") from e
    except jwt.PyJWTError as e:
        raise IdTokenError(f"the id_token is not valid ({e})") from e
    if float(claims["iat"]) > time.time() + leeway:
        raise IdTokenError("the id_token is issued in the future (check the clocks)")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("the id_token was issued for another application")
    return claims
