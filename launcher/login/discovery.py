"""The OpenID Provider's discovery document and signing keys, fetched and cached.

``<issuer>/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0) gives the
endpoints the hub's login uses; its ``issuer`` must equal the configured one (§4.3).
Endpoints must use https, except on a loopback host (a provider on the same machine,
like ``nfdi-launcher stack --oidc``'s). The keys (``jwks_uri``) are fetched again when a
token names a key not seen yet (key rotation), at most once per ``refresh_interval``.

A provider that cannot be reached raises :class:`ProviderUnavailable`, whose message
is meant for the person trying to log in.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from launcher.login.idtoken import ALGORITHMS

#: the largest discovery document or key set accepted (bytes)
MAX_DOCUMENT = 256 * 1024


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered something unusable (message for users)."""


class BadProviderConfig(ProviderUnavailable):
    """The discovery document contradicts the configuration (an operator's problem)."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""
    revocation_endpoint: str = ""
    algorithms: tuple[str, ...] = ("RS256",)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: Any, name: str) -> str:
    """*url* if it is an absolute https URL (http only on a loopback host)."""
    if not isinstance(url, str):
        raise BadProviderConfig(f"the provider's {name} is missing")
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http") or (
            parts.scheme == "http" and not is_loopback(parts.hostname)):
        raise BadProviderConfig(f"the provider's {name} {url!r} is not an https URL")
    return url


def parse_discovery(doc: Any, issuer: str) -> ProviderMetadata:
    """The metadata of *doc*, checked against the configured *issuer* (pure)."""
    if not isinstance(doc, dict):
        raise BadProviderConfig("the provider's discovery document is not a JSON object")
    if doc.get("issuer") != issuer:
        raise BadProviderConfig(f"the provider calls itself {doc.get('issuer')!r}, not "
                                f"{issuer!r} as configured")
    offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in ALGORITHMS if a in offered)
    if not algorithms:
        raise BadProviderConfig("the provider signs id_tokens with no accepted algorithm")
    optional = {name: check_endpoint(doc[name], name) if doc.get(name) else ""
                for name in ("end_session_endpoint", "revocation_endpoint")}
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=check_endpoint(doc.get("authorization_endpoint"),
                                              "authorization_endpoint"),
        token_endpoint=check_endpoint(doc.get("token_endpoint"), "token_endpoint"),
        userinfo_endpoint=check_endpoint(doc.get("userinfo_endpoint"), "userinfo_endpoint"),
        jwks_uri=check_endpoint(doc.get("jwks_uri"), "jwks_uri"),
        algorithms=algorithms, **optional)


class Provider:
    """Cached access to one provider's metadata and keys (one per authenticator)."""

    def __init__(self, issuer: str, *, timeout: float = 5.0, ttl: float = 3600.0,
                 refresh_interval: float = 60.0, validate_cert: bool = True) -> None:
        check_endpoint(issuer, "issuer")
        self.issuer = issuer
        self.timeout = timeout
        self.ttl = ttl
        self.refresh_interval = refresh_interval
        self.validate_cert = validate_cert
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, dict[str, Any]] | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.issuer).netloc

    async def get_json(self, url: str) -> Any:
        request = HTTPRequest(url, headers={"Accept": "application/json"},
                              connect_timeout=self.timeout, request_timeout=self.timeout,
                              follow_redirects=False, validate_cert=self.validate_cert)
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as e:
            raise ProviderUnavailable(f"the login service at {self.host} cannot be reached "
                                      f"({type(e).__name__})") from e
        if response.code == 599 or response.code >= 500:
            raise ProviderUnavailable(f"the login service at {self.host} cannot be reached "
                                      f"right now ({response.code})")
        if response.code != 200 or len(response.body or b"") > MAX_DOCUMENT:
            raise ProviderUnavailable(f"the login service at {self.host} answered "
                                      f"{response.code} for its configuration")
        try:
            return json.loads(response.body)
        except ValueError as e:
            raise ProviderUnavailable(f"the login service at {self.host} answered no JSON"
                                      ) from e

    async def metadata(self, refresh: bool = False) -> ProviderMetadata:
        now = time.monotonic()
        if self._metadata and not refresh and now - self._metadata[0] < self.ttl:
            return self._metadata[1]
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = parse_discovery(await self.get_json(url), self.issuer)
        self._metadata = (now, meta)
        return meta

    async def jwks(self, refresh: bool = False) -> dict[str, Any]:
        """The key set; *refresh* fetches it again unless that was done just now."""
        now = time.monotonic()
        if self._jwks and (now - self._jwks[0] < (self.refresh_interval if refresh
                                                  else self.ttl)):
            return self._jwks[1]
        keys = await self.get_json((await self.metadata()).jwks_uri)
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise ProviderUnavailable(f"the login service at {self.host} publishes no key set")
        self._jwks = (now, keys)
        return keys
