"""Every spelling of a launch target that a ban or allow pattern is matched against (pure).

Operators write ``banned_specs``/``allowed_specs`` as BinderHub does, against launch
specs: ``^gh/evil-org/``, ``^doi/10\\.5281/zenodo\\.666``,
``^git/https%3A%2F%2Fgithub\\.com%2Fevil``. A request can spell one target many ways:
percent-encoded once or twice, with full-width or invisible Unicode characters, as a DOI
that resolves to a GitHub repository, as a ``git/`` URL of a GitHub repository. So a
pattern is matched against the :func:`candidates` of a request: each text the request and
its resolved target name (what was asked, the pinned ``launch_path``, the canonical source
URL, every identifier in the resolution chain), each in plain form (:func:`plain`) and in
every spec spelling of its canonical identifier (:func:`spec_forms`). Whatever the
spelling, the candidates are the same.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from urllib.parse import quote, unquote, urlsplit

from fdo.target import LaunchTarget

#: percent-decoding rounds (so double and triple encoding decode too)
DECODE_ROUNDS = 4
#: identifier scheme -> spec prefix, where they differ (``swh:1:dir:...`` is ``swhid/swh:1:...``)
_SCHEME_PREFIX = {"swh": "swhid"}
_KEEP_SCHEME = frozenset({"swh"})

#: (text) -> canonical identifier text (:func:`fdo.providers.parse`'s ``normalized``), or raise
Canonical = Callable[[str], str]


def _visible(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # format characters (zero-width space/joiner, bidi marks) and controls are invisible
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc")).strip()


def _stages(text: str) -> list[str]:
    stages = [text]
    for _ in range(DECODE_ROUNDS):
        decoded = unquote(stages[-1], errors="replace")
        if decoded == stages[-1]:
            break
        stages.append(decoded)
    return stages


def decodings(text: str) -> list[str]:
    """*text* and each stage of percent-decoding it (to a fixpoint), each also with
    Unicode normalised (NFKC) and invisible characters removed. A ``git/`` spec encoded
    twice is a spec again after one round, and plain text after the last."""
    stages = _stages(text)
    return list(dict.fromkeys([*stages, *(_visible(s) for s in stages)]))


def plain(text: str) -> str:
    """*text* percent-decoded to a fixpoint, NFKC-normalised, invisible characters removed."""
    return _visible(_stages(text)[-1])


def _with_ref(base: str, ref: str) -> list[str]:
    return [base, f"{base}/{ref}"] if ref else [base]


def url_forms(url: str, ref: str = "") -> list[str]:
    """A repository URL as ``git/`` specs (plain and encoded) and, on the big forges,
    as ``gh/``, ``gl/`` and ``gist/`` specs."""
    url = url.removesuffix(".git").rstrip("/")
    out = [url, *_with_ref(f"git/{url}", ref), *_with_ref(f"git/{quote(url, safe='')}", ref)]
    parts = urlsplit(url)
    host, path = (parts.hostname or "").removeprefix("www."), parts.path.strip("/")
    if host == "github.com" and path:
        out += _with_ref(f"gh/{path}", ref)
    elif host == "gist.github.com" and path:
        out += _with_ref(f"gist/{path}", ref)
    elif host == "gitlab.com" and path:
        out += _with_ref(f"gl/{path}", ref) + _with_ref(f"gl/{quote(path, safe='')}", ref)
    return out


def spec_forms(normalized: str) -> list[str]:
    """The spec spellings of one canonical identifier (``doi:10.1/x`` -> ``doi/10.1/x``,
    ``https://github.com/o/r@<sha>`` -> ``gh/o/r/<sha>``, ...)."""
    if normalized.startswith(("http://", "https://")):
        url, ref = normalized, ""
        if "@" in normalized.split("://", 1)[1]:  # git: <source>@<ref>
            url, _, ref = normalized.rpartition("@")
        return [normalized, *url_forms(url, ref)]
    scheme, sep, rest = normalized.partition(":")
    if not sep or not scheme.isalpha():
        return [normalized]
    prefix = _SCHEME_PREFIX.get(scheme, scheme)
    body = normalized if scheme in _KEEP_SCHEME else rest
    out = [normalized, f"{prefix}/{body}"]
    if "://" in body:  # e.g. ckan/<URL-encoded dataset URL>
        out.append(f"{prefix}/{quote(body, safe='')}")
    return out

def target_texts(target: LaunchTarget) -> list[str]:
    """What a resolved target names: as given, the pinned launch path, the source URL
    (with its pinned ref), every identifier of the chain."""
    texts = [target.identifier, target.source]
    if target.launch_path:
        texts.append(target.launch_path.removeprefix("v2/"))
    if target.kind == "git" and target.ref:
        texts.append(f"{target.source}@{target.ref}")
    for hop in target.chain:
        texts += [hop.from_, hop.to]
    return texts


def candidates(texts: Iterable[str], canonical: Canonical) -> set[str]:
    """Every spelling of *texts* a pattern is matched against (see the module doc)."""
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        for form in decodings(text):
            out.add(form)
            try:
                normalized = canonical(form)
            except Exception:  # not an identifier in this spelling: its plain text still counts
                continue
            out.update(spec_forms(normalized))
    out.discard("")
    return out
