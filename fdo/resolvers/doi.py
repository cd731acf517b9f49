"""DOIs: registration agency first, then the agency's API (DataCite or Crossref)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fdo.errors import NotFound, UnsupportedIdentifier
from fdo.identifiers import Identifier
from fdo.identifiers.forges import HEX_SHA
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, as_dict, as_list
from fdo.target import Choice, LaunchTarget

DOI_ORG = "https://doi.org"
DATACITE_API = "https://api.datacite.org"
CROSSREF_API = "https://api.crossref.org"

#: Crossref relations that point from an article to its code or data
_CROSSREF_CODE_RELATIONS = (
    "is-supplemented-by",
    "is-part-of",
    "has-part",
    "references",
    "is-related-material",
    "has-related-material",
)
_FIGSHARE_DOI = re.compile(r"figshare\.(\d+)(?:\.v(\d+))?$", re.IGNORECASE)


class DoiResolver(Resolver):
    """``doi.org/ra/<prefix>`` -> DataCite ``/dois/<doi>`` or Crossref ``/works/<doi>``."""

    name = "doi"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "doi"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        doi = ident.get("doi")
        agency = self._agency(ident, ctx)
        if agency == "datacite":
            record = ctx.http.get_json(
                f"{DATACITE_API}/dois/{_path(doi.lower())}?include=media,client"
            )
            return self._from_datacite(ident, as_dict(as_dict(record).get("data")), ctx)
        if agency == "crossref":
            record = ctx.http.get_json(f"{CROSSREF_API}/works/{_path(doi)}")
            return self._from_crossref(ident, as_dict(as_dict(record).get("message")))
        raise UnsupportedIdentifier(
            f"DOI {doi} is registered with {agency or 'an unknown agency'}, whose records "
            "do not link to code; use a DataCite or Crossref DOI, or the repository URL"
        )

    def _agency(self, ident: Identifier, ctx: ResolveContext) -> str:
        prefix = ident.get("prefix")
        answer = as_list(ctx.http.get_json(f"{DOI_ORG}/ra/{prefix}"))
        entry = as_dict(answer[0]) if answer else {}
        agency = str(entry.get("RA", "")).lower()
        if not agency:
            status = entry.get("status", "no answer")
            raise NotFound(f"DOI prefix {prefix} is not registered ({status}); check the DOI")
        return agency

    def _from_datacite(self, ident: Identifier, data: dict[str, Any], ctx: ResolveContext) -> Outcome:
        attrs = as_dict(data.get("attributes"))
        if not attrs:
            raise NotFound(f"DataCite has no record for DOI {ident.get('doi')}; check the DOI")
        for value in _identifier_values(attrs):
            if value.startswith("swh:1:"):
                return ctx.parse(value)
        url = str(attrs.get("url") or "")
        if url:
            loc = ctx.location(url)
            if loc.kind != "url":
                return _carry(ident, loc)
        for rel in as_list(attrs.get("relatedIdentifiers")):
            rel = as_dict(rel)
            if rel.get("relationType") not in ("IsSupplementTo", "IsIdenticalTo"):
                continue
            if rel.get("relatedIdentifierType") != "URL":
                continue
            cand = ctx.location(str(rel.get("relatedIdentifier", "")))
            if cand.kind == "git" and cand.get("ref"):
                return cand
        raise UnsupportedIdentifier(
            f"DOI {ident.get('doi')} leads only to a landing page ({url or 'no URL'}); "
            "paste the repository URL or a DOI of the software itself"
        )

    def _from_crossref(self, ident: Identifier, message: dict[str, Any]) -> LaunchTarget:
        if not message:
            raise NotFound(f"Crossref has no record for DOI {ident.get('doi')}; check the DOI")
        relations = as_dict(message.get("relation"))
        seen: list[tuple[str, str]] = []
        for name in _CROSSREF_CODE_RELATIONS:
            for rel in as_list(relations.get(name)):
                rel = as_dict(rel)
                target = str(rel.get("id", ""))
                if rel.get("id-type") == "doi" and target and target.lower() not in {s for s, _ in seen}:
                    seen.append((target.lower(), name))
        if not seen:
            raise UnsupportedIdentifier(
                f"DOI {ident.get('doi')} is a {message.get('type', 'work')} without linked "
                "software; paste the DOI or repository URL of its code"
            )
        title = " ".join(str(t) for t in as_list(message.get("title")))
        return LaunchTarget(
            identifier=ident.raw,
            kind="archive",
            provider="doi",
            source=f"https://doi.org/{ident.get('doi')}",
            ref="",
            launch_path="",
            title=title,
            choices=tuple(
                Choice(identifier=f"doi:{doi}", label=f"DOI {doi}", reason=f"Crossref relation {rel}")
                for doi, rel in seen
            ),
        )


def _path(doi: str) -> str:
    return quote(doi, safe="/:;()._-")


def _identifier_values(attrs: dict[str, Any]) -> list[str]:
    out = []
    for item in as_list(attrs.get("identifiers")):
        out.append(str(as_dict(item).get("identifier", "")))
    for item in as_list(attrs.get("alternateIdentifiers")):
        out.append(str(as_dict(item).get("alternateIdentifier", "")))
    return out


def _carry(ident: Identifier, loc: Identifier) -> Identifier:
    """Keep what the DOI itself says (Figshare version, Dataverse version) on the next hop."""
    parts = dict(loc.parts)
    parts.setdefault("doi", ident.get("doi"))
    if loc.kind == "figshare":
        m = _FIGSHARE_DOI.search(ident.get("suffix"))
        parts.pop("version", None)
        if m and m.group(2):
            parts["version"] = m.group(2)
    if loc.kind == "dataverse":
        parts.pop("version", None)
        if ident.get("version"):
            parts["version"] = ident.get("version")
    if loc.kind == "git" and not HEX_SHA.match(loc.get("ref")):
        parts["from_doi"] = ident.get("doi")
    normalized = loc.normalized
    if loc.kind == "figshare":
        normalized = f"figshare:{parts['id']}" + (f".v{parts['version']}" if "version" in parts else "")
    if loc.kind == "dataverse":
        normalized = f"dataverse:{parts.get('host')}/doi:{parts['doi'].lower()}" + (
            f"@{parts['version']}" if "version" in parts else ""
        )
    return Identifier(loc.kind, normalized, parts, loc.raw)
