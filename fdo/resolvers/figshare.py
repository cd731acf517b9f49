"""Figshare: the version comes from the DOI suffix (or the newest of ``/versions``), never a redirect."""

from __future__ import annotations

from fdo.errors import NotFound
from fdo.identifiers import Identifier, WebUrl, malformed
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry

FIGSHARE_API = "https://api.figshare.com/v2"


def figshare_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """``/articles/<slug>/<id>[/<version>]`` on figshare.com or an institutional ``*.figshare.com``."""
    if url.host not in hosts and not url.host.endswith(".figshare.com"):
        return None
    segs = url.segments
    nums = [i for i, s in enumerate(segs) if s.isdigit()]
    if not segs or segs[0] != "articles" or not nums:
        raise malformed("Figshare URL does not name an article", "paste the article's DOI")
    first = nums[0]
    article = segs[first]
    version = segs[first + 1] if first + 1 < len(segs) and segs[first + 1].isdigit() else ""
    parts = {"host": url.host, "id": article}
    if version:
        parts["version"] = version
    norm = f"figshare:{article}" + (f".v{version}" if version else "")
    return Identifier("figshare", norm, parts, raw)


class FigshareResolver(Resolver):
    name = "figshare"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "figshare"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        article = ident.get("id")
        version = ident.get("version")
        if not version:
            versions = as_list(ctx.http.get_json(f"{FIGSHARE_API}/articles/{article}/versions"))
            numbers = [int(v["version"]) for v in versions if isinstance(as_dict(v).get("version"), int)]
            if not numbers:
                raise NotFound(f"Figshare article {article} has no published versions")
            version = str(max(numbers))
            ctx.mutable = True
            ctx.warn(f"Figshare article {article} given without a version; pinned to the latest, v{version}")
        record = as_dict(ctx.http.get_json(f"{FIGSHARE_API}/articles/{article}/versions/{version}"))
        if "files" not in record:
            raise NotFound(
                f"Figshare article {article} v{version} lists no files (embargoed or confidential); "
                "nothing to launch"
            )
        files = []
        for item in as_list(record.get("files")):
            item = as_dict(item)
            if item.get("is_link_only") or not item.get("download_url"):
                continue
            md5 = item.get("computed_md5") or item.get("supplied_md5")
            files.append(
                FileEntry(
                    name=str(item.get("name", "")),
                    url=str(item["download_url"]),
                    size=item.get("size") if isinstance(item.get("size"), int) else None,
                    checksum=f"md5:{md5}" if md5 else None,
                )
            )
        if not files:
            raise NotFound(f"Figshare article {article} v{version} has no downloadable files")
        doi = f"10.6084/m9.figshare.{article}.v{version}"
        return archive_target(
            ident,
            provider="figshare",
            source=str(record.get("url_public_html") or f"https://figshare.com/articles/{article}"),
            ref=f"{article}.v{version}",
            launch_spec=doi,
            files=tuple(files),
            title=str(record.get("title", "")),
        ).with_(provenance={"doi": str(record.get("doi") or doi), "version": version})
