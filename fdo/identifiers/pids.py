"""DOIs, Handle PIDs and SWHIDs: pure syntax, no network.

``try_*`` answer None for text that is not of their kind; the others raise
:class:`~fdo.errors.MalformedIdentifier` (the text followed ``doi:``, ``hdl/``, ...).
The ``*_spec`` and ``*_page`` functions are the rows' parsers in :mod:`fdo.providers`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from fdo.errors import UnsupportedIdentifier
from fdo.identifiers._base import Identifier, malformed
from fdo.identifiers.urls import Classifier, SpecParser, WebUrl

# DOI: "10." + registrant code + "/" + non-empty suffix without blanks (DOI Handbook 2.2).
_DOI = re.compile(r"^(10\.\d{4,9}(?:\.[\w]+)*)/(\S+)$")
_DOI_PREFIXES = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "https://www.doi.org/",
    "http://www.doi.org/",
    "doi.org/",
    "dx.doi.org/",
    "info:doi/",
    "urn:doi:",
    "doi:",
)
# Handle prefixes are dotted segments ("21.T11148", "20.500.12345", "11304").
_HANDLE = re.compile(r"^(\d+(?:\.[A-Za-z0-9]+)*)/([\x21-\x7e]+)$")
# After an explicit hdl: any prefix name is syntactically possible (test servers use words).
_HANDLE_EXPLICIT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)/([\x21-\x7e]+)$")
_HANDLE_PREFIXES = (
    "https://hdl.handle.net/api/handles/",
    "http://hdl.handle.net/api/handles/",
    "https://hdl.handle.net/",
    "http://hdl.handle.net/",
    "hdl.handle.net/",
    "info:hdl/",
    "hdl:",
)
_SWH_CORE = re.compile(r"^swh:1:(snp|rel|rev|dir|cnt):([0-9a-f]{40})$")
_SWH_QUALIFIERS = ("origin", "visit", "anchor", "path", "lines")
_SWH_URL_PREFIXES = (
    "https://archive.softwareheritage.org/",
    "http://archive.softwareheritage.org/",
    "https://identifiers.org/",
)


def _strip_prefix(text: str, prefixes: tuple[str, ...]) -> str | None:
    low = text.lower()
    for prefix in prefixes:
        if low.startswith(prefix):
            return text[len(prefix) :].strip()
    return None


def try_doi(text: str, raw: str, *, hint: str = "") -> Identifier | None:
    """A DOI in any spelling (``10.x/y``, ``doi:``, ``https://doi.org/``, ...), or None when
    ``text`` does not look like one. A query string after a bare DOI is dropped."""
    body = _strip_prefix(text, _DOI_PREFIXES)
    if body is None:
        if not text.startswith("10."):
            return None
        body = text
    return _doi(body, raw, explicit=False, hint=hint)


def doi(text: str, raw: str, *, hint: str = "") -> Identifier:
    """``text`` must be a DOI (it followed ``doi:`` or a ``doi/``, ``zenodo/``, ... spec)."""
    body = _strip_prefix(text, _DOI_PREFIXES)
    return _doi(text if body is None else body, raw, explicit=True, hint=hint)


def _doi(body: str, raw: str, *, explicit: bool, hint: str) -> Identifier:
    body = unquote(body.split("#", 1)[0])
    if "?" in body and not explicit:
        body = body.split("?", 1)[0]
    version = ""
    if hint == "dataverse" and "@" in body:
        body, version = body.rsplit("@", 1)
        if not re.fullmatch(r"\d+\.\d+", version):
            raise malformed(
                f"Dataverse version '{version}' is not <major>.<minor>",
                "write e.g. dataverse/10.7910/DVN/TJCLKP@4.0",
            )
    m = _DOI.match(body)
    if not m:
        raise malformed(
            f"'{body}' is not a DOI (expected 10.<registrant>/<suffix>)",
            "paste the full DOI, e.g. 10.5281/zenodo.48440",
        )
    doi = f"{m.group(1)}/{m.group(2)}"
    if ".." in m.group(2).split("/"):
        raise malformed("DOI suffix contains '..'", "paste the DOI exactly as published")
    parts = {"doi": doi, "prefix": m.group(1), "suffix": m.group(2)}
    if hint:
        parts["provider"] = hint
    if version:
        parts["version"] = version
    normalized = f"doi:{doi.lower()}" + (f"@{version}" if version else "")
    return Identifier("doi", normalized, parts, raw)


def try_handle(text: str, raw: str) -> Identifier | None:
    """``https://hdl.handle.net/p/s``, ``hdl:p/s`` or a bare ``p/s`` with a numeric prefix;
    None when ``text`` does not look like a Handle PID."""
    body = _strip_prefix(text, _HANDLE_PREFIXES)
    if body is None and not _HANDLE.match(text):
        return None
    return _handle(text if body is None else body, raw, explicit=body is not None)


def handle(text: str, raw: str) -> Identifier:
    """``text`` must be a Handle PID (it followed ``hdl:`` or the ``hdl/`` spec)."""
    body = _strip_prefix(text, _HANDLE_PREFIXES)
    return _handle(text if body is None else body, raw, explicit=True)


def _handle(body: str, raw: str, *, explicit: bool) -> Identifier:
    body = unquote(body.split("?", 1)[0].split("#", 1)[0]).strip()
    m = (_HANDLE_EXPLICIT if explicit else _HANDLE).match(body)
    if not m:
        raise malformed(
            f"'{body}' is not a Handle PID (expected <prefix>/<suffix>, e.g. 21.11152/474a...)",
            "paste the PID as hdl:<prefix>/<suffix>",
        )
    prefix, suffix = m.group(1), m.group(2)
    if prefix.startswith("10."):
        return doi(body, raw)
    if ".." in suffix.split("/") or prefix == "0":
        raise malformed(f"'{body}' is not a resolvable Handle PID", "paste the PID as published")
    pid = f"{prefix}/{suffix}"
    return Identifier("handle", f"hdl:{pid}", {"pid": pid, "prefix": prefix, "suffix": suffix}, raw)


def try_swhid(text: str, raw: str) -> Identifier | None:
    """A SWHID (or its archive/identifiers.org URL), or None when ``text`` is none."""
    body = _strip_prefix(text, _SWH_URL_PREFIXES)
    if not (text if body is None else body).startswith("swh:"):
        return None
    return swhid(text, raw)


def swhid(text: str, raw: str) -> Identifier:
    """SWHID core + qualifiers per swh-model's grammar; ``cnt`` is refused as not launchable."""
    body = _strip_prefix(text, _SWH_URL_PREFIXES)
    if body is None:
        body = text
    if not body.startswith("swh:"):
        raise malformed(f"'{body}' is not a SWHID", "write swh:1:<dir|rev|rel|snp>:<40 hex>")
    core, _, qualifier_text = body.partition(";")
    m = _SWH_CORE.match(core)
    if not m:
        raise malformed(
            f"'{core}' is not a valid SWHID core (swh:1:<snp|rel|rev|dir|cnt>:<40 lowercase hex>)",
            "copy the SWHID from the Software Heritage permalink box",
        )
    obj_type, obj_hash = m.group(1), m.group(2)
    parts = {"type": obj_type, "hash": obj_hash, "core": core}
    parts.update(_swh_qualifiers(qualifier_text))
    if obj_type == "cnt":
        raise UnsupportedIdentifier(
            f"{core} is a single file (cnt), which cannot be launched; "
            "use the SWHID of the directory (swh:1:dir:...) or revision that contains it"
        )
    keep = ";".join(f"{k}={parts[k]}" for k in _SWH_QUALIFIERS if k in parts)
    normalized = core + (f";{keep}" if keep else "")
    return Identifier("swhid", normalized, parts, raw)


def _swh_qualifiers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not text:
        return out
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        if not sep or key not in _SWH_QUALIFIERS or not value:
            raise malformed(
                f"SWHID qualifier '{item}' is not one of origin=, visit=, anchor=, path=, lines=",
                "remove the qualifier or copy the SWHID again",
            )
        if key in out:
            raise malformed(f"SWHID qualifier '{key}' given twice", "keep one")
        if key == "visit" and not re.fullmatch(r"swh:1:snp:[0-9a-f]{40}", value):
            raise malformed("SWHID visit= must be a snapshot SWHID", "use swh:1:snp:<40 hex>")
        if key == "anchor" and not re.fullmatch(r"swh:1:(snp|rel|rev|dir):[0-9a-f]{40}", value):
            raise malformed("SWHID anchor= must be a snp/rel/rev/dir SWHID", "fix the anchor")
        if key == "path" and (not value.startswith("/") or "/../" in value + "/"):
            raise malformed("SWHID path= must be an absolute path without '..'", "fix the path")
        if key == "lines" and not re.fullmatch(r"\d+(-\d+)?", value):
            raise malformed("SWHID lines= must be <n> or <n>-<m>", "fix the line range")
        out[key] = value
    return out


def doi_spec(hint: str = "") -> SpecParser:
    """``doi/<doi>``, and ``zenodo/``, ``figshare/``, ``dataverse/<doi>`` with a provider hint."""

    def parse(rest: str, raw: str, _table: Classifier) -> Identifier:
        return doi(unquote(rest), raw, hint=hint)

    return parse


def handle_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
    return handle(unquote(rest), raw)


def swhid_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
    return swhid(unquote(rest), raw)


def doi_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    if url.host not in hosts:
        return None
    return try_doi(url.text, raw) or _not_a_link(url, "DOI", "https://doi.org/10.<registrant>/<suffix>")


def handle_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    if url.host not in hosts:
        return None
    return try_handle(url.text, raw) or _not_a_link(url, "Handle", "https://hdl.handle.net/<prefix>/<suffix>")


def swhid_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    if url.host not in hosts or "/swh:" not in url.path:
        return None
    return swhid(url.text[url.text.index("swh:") :], raw)


def _not_a_link(url: WebUrl, what: str, form: str) -> Identifier:
    raise malformed(f"'{url.text[:80]}' is not a {what} link", f"paste it as {form}")
