"""The :class:`Identifier` value and the checks every raw string goes through first."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from fdo.errors import MalformedIdentifier, RefusedTarget

#: ``git``, ``doi``, ``handle``, ``swhid``, ``url`` (a landing page found in a record), or the
#: id of a provider that has its own resolver (``zenodo``, ``hydroshare``, ...)
IdentKind = str

#: Longest identifier we accept; real DOIs/URLs are far shorter, and a bound keeps
#: regexes and logs cheap on hostile input.
MAX_LENGTH = 2048

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


@dataclass(frozen=True)
class Identifier:
    """A parsed identifier: what kind it is, its normalized spelling, and its parts.

    ``normalized`` is the canonical spelling used in the provenance chain and cache
    keys (``doi:10.5281/zenodo.48440``, ``hdl:21.11152/...``, ``swh:1:dir:...``,
    ``https://github.com/o/r@<ref>``). ``parts`` holds the fields resolvers need
    (``url``, ``ref``, ``doi``, ``recid``, ...); ``raw`` is the input as given.
    """

    kind: IdentKind
    normalized: str
    parts: dict[str, str] = field(default_factory=dict, hash=False)
    raw: str = field(default="", compare=False)

    def get(self, name: str, default: str = "") -> str:
        return self.parts.get(name, default)

    def __str__(self) -> str:
        return self.normalized


def malformed(what: str, todo: str) -> MalformedIdentifier:
    """One-line error: what is wrong and what to do about it."""
    return MalformedIdentifier(f"{what}; {todo}")


def clean_input(raw: str) -> str:
    """Strip surrounding blanks and refuse strings no identifier can contain."""
    if not isinstance(raw, str):
        raise malformed("identifier is not a string", "pass the identifier as text")
    if len(raw) > MAX_LENGTH:
        raise malformed(
            f"identifier is {len(raw)} characters long (limit {MAX_LENGTH})",
            "paste only the identifier, not a whole document",
        )
    text = raw.strip()
    if not text:
        raise malformed("empty identifier", "paste a DOI, Handle PID, SWHID or Git URL")
    if _CONTROL.search(text):
        raise malformed(
            "identifier contains control characters or line breaks",
            "paste a single identifier on one line",
        )
    if text.startswith("-"):
        raise malformed(
            "identifier starts with '-' (looks like a command-line option)",
            "paste a DOI, Handle PID, SWHID or Git URL",
        )
    return text


def check_ascii_scheme(text: str) -> None:
    """Refuse look-alike schemes and hosts (fullwidth, Cyrillic, ...) with a clear message."""
    head = text.split("/", 3)[:3]
    prefix = "/".join(head)
    if prefix.isascii():
        return
    folded = unicodedata.normalize("NFKC", prefix)
    hint = " (it looks like ASCII after normalization)" if folded.isascii() else ""
    raise malformed(
        f"scheme or host contains non-ASCII characters{hint}",
        "type the URL with plain ASCII letters (use the punycode xn-- form for international domains)",
    )


def refuse_transports(text: str) -> None:
    """Git transport helpers, ``file:`` and ``git://`` are refused whatever follows them."""
    low = text.lower()
    if "::" in low.split("/", 1)[0] or low.startswith(("ext:", "fd:")):
        raise RefusedTarget(
            "Git transport helpers ('<transport>::<address>') are not allowed; "
            "give an https:// repository URL"
        )
    if low.startswith(("file:", "git+file:")):
        raise RefusedTarget("file: URLs are not allowed; give an https:// repository URL")
    if low.startswith("git://"):
        raise RefusedTarget("unencrypted git:// URLs are not allowed; use the https:// URL")
