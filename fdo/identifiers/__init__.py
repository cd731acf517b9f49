"""Identifier syntax without network: the :class:`Identifier` value, DOIs, Handle PIDs,
SWHIDs, Git URLs and specs, and the checks every URL goes through.

Which provider a string belongs to is decided by the provider table, :mod:`fdo.providers`,
whose ``parse`` is the entry point (accepted forms: ``docs/identifiers.md``).
"""

from __future__ import annotations

from fdo.identifiers import pids
from fdo.identifiers._base import (
    Identifier,
    IdentKind,
    check_ascii_scheme,
    clean_input,
    malformed,
    refuse_transports,
)
from fdo.identifiers.forges import ABBREV_SHA, HEX_SHA, check_ref
from fdo.identifiers.urls import Classifier, PageParser, SpecParser, WebUrl, web_url

__all__ = [
    "ABBREV_SHA",
    "HEX_SHA",
    "Classifier",
    "IdentKind",
    "Identifier",
    "PageParser",
    "SpecParser",
    "WebUrl",
    "check_ascii_scheme",
    "check_ref",
    "clean_input",
    "malformed",
    "pids",
    "refuse_transports",
    "web_url",
]
