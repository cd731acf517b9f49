"""DOIs, Handle PIDs and SWHIDs: pure syntax, no network."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fdo.errors import UnsupportedIdentifier
from fdo.identifiers._base import Identifier, malformed

# DOI: "10." + registrant code + "/" + non-empty suffix without blanks (DOI Handbook 2.2).
_DOI = re.compile(r"^(10\.\d{4,9}(?:\.[\w]+)*)/(\S+)$")
_DOI_PREFIXES = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "https://www.doi.org/",
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


def parse_doi(text: str, raw: str, *, explicit: bool = False, hint: str = "") -> Identifier | None:
    """``10.x/y``, ``doi:``, ``https://doi.org/``, ``dx.doi.org``, ``info:doi/`` (any case)."""
    body = _strip_prefix(text, _DOI_PREFIXES)
    if body is None:
        if not (explicit or text.startswith("10.")):
            return None
        body = text
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


def parse_handle(text: str, raw: str, *, explicit: bool = False) -> Identifier | None:
    """``hdl:p/s``, ``https://hdl.handle.net/p/s``, and bare ``p/s`` with a numeric prefix."""
    body = _strip_prefix(text, _HANDLE_PREFIXES)
    if body is None:
        if not explicit and not _HANDLE.match(text):
            return None
        body = text
    body = unquote(body.split("?", 1)[0].split("#", 1)[0]).strip()
    m = _HANDLE_EXPLICIT.match(body) if explicit or body is not text else _HANDLE.match(body)
    if not m:
        raise malformed(
            f"'{body}' is not a Handle PID (expected <prefix>/<suffix>, e.g. 21.11152/474a...)",
            "paste the PID as hdl:<prefix>/<suffix>",
        )
    prefix, suffix = m.group(1), m.group(2)
    if prefix.startswith("10."):
        return parse_doi(body, raw, explicit=True)
    if ".." in suffix.split("/") or prefix == "0":
        raise malformed(f"'{body}' is not a resolvable Handle PID", "paste the PID as published")
    pid = f"{prefix}/{suffix}"
    return Identifier("handle", f"hdl:{pid}", {"pid": pid, "prefix": prefix, "suffix": suffix}, raw)


def parse_swhid(text: str, raw: str, *, explicit: bool = False) -> Identifier | None:
    """SWHID core + qualifiers per swh-model's grammar; ``cnt`` is refused as not launchable."""
    body = _strip_prefix(text, _SWH_URL_PREFIXES)
    if body is None:
        body = text
    if not body.startswith("swh:"):
        if explicit:
            raise malformed(f"'{body}' is not a SWHID", "write swh:1:<dir|rev|rel|snp>:<40 hex>")
        return None
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
