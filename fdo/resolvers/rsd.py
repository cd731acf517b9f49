"""Research Software Directory pages (nfdi.software): concept DOI, else the one repository."""

from __future__ import annotations

import re
from urllib.parse import quote

from fdo.errors import NotFound
from fdo.identifiers import Classifier, Identifier, WebUrl, malformed
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, as_dict, as_list
from fdo.target import Choice, LaunchTarget

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def rsd_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
    """``rsd/<host>/<slug>`` (and ``rsd:<host>/<slug>``)."""
    host, _, slug = rest.partition("/")
    return rsd_identifier(host.lower(), slug.strip("/"), raw)


def rsd_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """``https://<directory>/software/<slug>``."""
    segs = url.segments
    if url.host not in hosts or len(segs) != 2 or segs[0] != "software":
        return None
    return rsd_identifier(url.host, segs[1], raw)


def rsd_identifier(host: str, slug: str, raw: str) -> Identifier:
    if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", host):
        raise malformed(f"'{host[:60]}' is not a software directory host", "use e.g. nfdi.software")
    if not _SLUG.match(slug):
        raise malformed(f"'{slug[:60]}' is not a software slug", "copy the slug from the page URL")
    return Identifier("rsd", f"rsd:{host}/{slug}", {"host": host, "slug": slug}, raw)


class RsdResolver(Resolver):
    name = "rsd"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "rsd"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        host, slug = ident.get("host"), ident.get("slug")
        api = f"https://{host}/api/v1"
        rows = as_list(ctx.http.get_json(
            f"{api}/software?slug=eq.{quote(slug)}&select=id,slug,brand_name,concept_doi,is_published"
        ))
        if not rows:
            raise NotFound(f"no software '{slug}' on {host}; check the page URL")
        row = as_dict(rows[0])
        ctx.mutable = True
        if row.get("concept_doi"):
            return ctx.parse(f"doi:{row['concept_doi']}")
        repos = as_list(ctx.http.get_json(
            f"{api}/rpc/repository_by_software?software_id={quote(str(row.get('id', '')))}&order=position,url"
        ))
        cands: list[Identifier] = []
        for repo in repos:
            url = str(as_dict(repo).get("url", ""))
            try:
                loc = ctx.location(url)
            except Exception:  # noqa: BLE001 - a bad URL in the catalogue is just not a candidate
                continue
            if loc.kind == "git":
                cands.append(loc)
        if not cands:
            raise NotFound(f"software '{slug}' on {host} lists neither a DOI nor a code repository")
        if len(cands) == 1:
            return cands[0]
        return LaunchTarget(
            identifier=ident.raw, kind="git", provider="rsd", source=f"https://{host}/software/{slug}",
            ref="", launch_path="", title=str(row.get("brand_name", "")),
            choices=tuple(Choice(c.get("source"), c.get("source"), "repository listed on the software page") for c in cands),
        )
