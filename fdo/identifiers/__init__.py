"""Identifier parsing: any string a user pastes -> a typed :class:`Identifier` (no network).

Accepted forms are listed in ``docs/identifiers.md``. Malformed input raises
:class:`fdo.errors.MalformedIdentifier`; forbidden transports (``ext::``, ``file://``)
raise :class:`fdo.errors.RefusedTarget`; SWHIDs of single files raise
:class:`fdo.errors.UnsupportedIdentifier`. Every message is one line saying what to do.
"""

from __future__ import annotations

import re

from fdo.errors import RefusedTarget
from fdo.identifiers import pids
from fdo.identifiers._base import Identifier, IdentKind, check_ascii_scheme, clean_input, malformed
from fdo.identifiers.forges import ABBREV_SHA, HEX_SHA, check_ref, parse_ssh
from fdo.identifiers.specs import SPEC_PROVIDERS, is_spec, parse_spec
from fdo.identifiers.urls import DEFAULT_HOSTS, KnownHosts, parse_url, rsd_identifier

__all__ = [
    "ABBREV_SHA",
    "DEFAULT_HOSTS",
    "HEX_SHA",
    "SPEC_PROVIDERS",
    "IdentKind",
    "Identifier",
    "KnownHosts",
    "check_ref",
    "parse",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_HOSTLESS = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+/", re.IGNORECASE)


def parse(raw: str, *, hosts: KnownHosts = DEFAULT_HOSTS, location: bool = False) -> Identifier:
    """Classify ``raw`` syntactically.

    ``location=True`` is used for URLs found inside records (Handle values, DataCite
    ``url``): an unknown web page is then kind ``url`` (a landing page), whereas a URL
    typed by a user is taken to be a Git repository, as in repo2docker.
    """
    text = clean_input(raw)
    check_ascii_scheme(text)
    low = text.lower()
    _refuse_transports(low)
    if low.startswith("swh:"):
        return pids.parse_swhid(text, raw, explicit=True) or _unreachable()
    if low.startswith(("doi:", "info:doi/", "urn:doi:")) or text.startswith("10."):
        return pids.parse_doi(text, raw, explicit=True) or _unreachable()
    if low.startswith(("hdl:", "info:hdl/")):
        return pids.parse_handle(text, raw, explicit=True) or _unreachable()
    if low.startswith("rsd:"):
        host, _, slug = text[4:].partition("/")
        return rsd_identifier(host.lower(), slug.strip("/"), raw)
    if low.startswith(("http://", "https://")):
        return parse_url(text, raw, hosts, location=location)
    ssh = parse_ssh(text, raw)
    if ssh is not None:
        return ssh
    scheme = _SCHEME.match(text)
    if scheme and "://" in text:
        raise malformed(f"URL scheme '{scheme.group(1)}:' is not supported", "use an https:// URL")
    if is_spec(text):
        return parse_spec(text, raw, hosts)
    handle = pids.parse_handle(text, raw)
    if handle is not None:
        return handle
    if _HOSTLESS.match(text):
        return parse_url("https://" + text, raw, hosts, location=location)
    raise malformed(
        f"'{text[:60]}' is not a DOI, Handle PID, SWHID, Git URL or Binder spec",
        "paste e.g. 10.5281/zenodo.48440, hdl:21.11152/..., swh:1:dir:..., or https://github.com/<owner>/<repo>",
    )


def _refuse_transports(low: str) -> None:
    if "::" in low.split("/", 1)[0] or low.startswith(("ext:", "fd:")):
        raise RefusedTarget(
            "Git transport helpers ('<transport>::<address>') are not allowed; "
            "give an https:// repository URL"
        )
    if low.startswith(("file:", "git+file:")):
        raise RefusedTarget("file: URLs are not allowed; give an https:// repository URL")
    if low.startswith("git://"):
        raise RefusedTarget("unencrypted git:// URLs are not allowed; use the https:// URL")


def _unreachable() -> Identifier:
    raise AssertionError("explicit parsers always return an Identifier or raise")
