"""Checks every ``http(s)`` URL goes through before a provider looks at it.

Which provider a URL belongs to is decided by the provider table (:mod:`fdo.providers`),
whose rows call the page parsers in the resolver modules with a :class:`WebUrl`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from fdo.errors import RefusedTarget
from fdo.identifiers._base import Identifier, malformed

#: DNS zones that only exist inside private networks (Kubernetes, mDNS, cloud metadata)
_INTERNAL_SUFFIXES = (
    ".svc", ".cluster.local", ".local", ".internal", ".localhost", ".localdomain",
    ".home.arpa",
)


@dataclass(frozen=True)
class WebUrl:
    """An ``http(s)`` URL that passed :func:`web_url`, split the way page parsers need it."""

    text: str
    scheme: str
    netloc: str
    host: str
    path: str
    segments: list[str]
    query: dict[str, list[str]]

    def param(self, name: str) -> str:
        return (self.query.get(name) or [""])[0]


class Classifier(Protocol):
    """What a spec parser may ask of the provider table: classify a URL inside a spec."""

    def url(self, text: str, raw: str, *, location: bool = False) -> Identifier: ...


#: ``<provider>/<rest>`` -> Identifier (``rest`` is everything after the first ``/``)
SpecParser = Callable[[str, str, Classifier], Identifier]
#: a URL -> this provider's Identifier, or None if the page is not this provider's;
#: the third argument is the provider's hosts (defaults plus the operator's extra hosts)
PageParser = Callable[[WebUrl, str, frozenset[str]], Identifier | None]


def web_url(text: str) -> WebUrl:
    """Refuse URLs no provider may see: other schemes, credentials, internal host names."""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise malformed(f"URL scheme '{scheme}:' is not allowed", "use an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise malformed("URL contains a user name or password", "remove the credentials from the URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise malformed("URL has no host", "paste the full https:// URL")
    if ("." not in host.strip(".") and ":" not in host) or host.rstrip(".").endswith(_INTERNAL_SUFFIXES):
        raise RefusedTarget(
            f"refused host '{host[:60]}': single-label and internal names point into a private network; "
            "use the repository's public URL"
        )
    try:
        _ = parts.port
    except ValueError as err:
        raise malformed("URL has an invalid port", "fix the port number") from err
    return WebUrl(
        text=text,
        scheme=parts.scheme,
        netloc=parts.netloc,
        host=host,
        path=parts.path,
        segments=[s for s in parts.path.split("/") if s],
        query=parse_qs(parts.query),
    )
