"""RO-Crates: the code repository named by ``mainEntity``/``codeRepository``, else the crate's files.

A crate URL is mutable, so a crate-files target is pinned to the sha256 of the metadata
file: ``launch_path`` is ``v2/rocrate/<URL-encoded crate URL>/<sha256>``, and resolving
that spec again refuses a crate whose metadata changed. A ``.crate.zip`` is pinned only
when the spec carries the digest (fetch then verifies the zip against it).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from fdo.errors import NotFound
from fdo.identifiers import Classifier, Identifier, WebUrl, malformed
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import Choice, FileEntry, LaunchTarget

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def rocrate_spec(rest: str, raw: str, table: Classifier) -> Identifier:
    """``rocrate/<url-encoded crate URL>[/<sha256 of the metadata file or zip>]``."""
    encoded, _, digest = rest.partition("/")
    url = unquote(encoded)
    usage = "write rocrate/<URL-encoded .../ro-crate-metadata.json or .crate.zip URL>/<sha256>"
    if not url.lower().startswith(("https://", "http://")):
        raise malformed("rocrate/ spec does not contain an http(s) URL", usage)
    if table.url(url, raw).kind != "rocrate":
        raise malformed("rocrate/ spec does not name an RO-Crate", usage)
    digest = digest.strip("/").lower()
    if digest and not _SHA256.match(digest):
        raise malformed(f"'{digest[:70]}' is not a sha256 digest (64 hex digits)", usage)
    return rocrate_identifier(url, raw, digest)


def rocrate_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """Any host: the URL of an ``ro-crate-metadata.json`` or a ``.crate.zip``."""
    if not url.path.lower().endswith(("/ro-crate-metadata.json", ".crate.zip")):
        return None
    return rocrate_identifier(url.text, raw)


def rocrate_identifier(url: str, raw: str, sha256: str = "") -> Identifier:
    """An RO-Crate URL, optionally pinned to the sha256 of its metadata file (or zip)."""
    if not sha256:
        return Identifier("rocrate", url, {"url": url}, raw)
    return Identifier("rocrate", f"{url}@sha256:{sha256}", {"url": url, "sha256": sha256}, raw)


def _types(entity: dict[str, Any]) -> set[str]:
    t = entity.get("@type")
    return {str(x) for x in (t if isinstance(t, list) else [t])}


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("@id"), str):
            out.append(item["@id"])
        elif isinstance(item, str):
            out.append(item)
    return out


class RoCrateResolver(Resolver):
    name = "ro-crate"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "rocrate"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        url, pinned = ident.get("url"), ident.get("sha256")
        if url.lower().endswith(".zip"):
            return self._zip(ident, url, pinned, ctx)
        resp = ctx.http.get(url, headers={"Accept": "application/ld+json, application/json"})
        digest = hashlib.sha256(resp.body).hexdigest()
        if pinned and digest != pinned:
            raise NotFound(
                f"the RO-Crate {url} changed since this link was made (sha256 {pinned[:12]}..., now "
                f"{digest[:12]}...); resolve the crate URL again to launch its current content"
            )
        ctx.provenance["rocrate_sha256"] = digest
        ctx.mutable = ctx.mutable or not pinned
        crate = as_dict(resp.json())
        graph = {str(e.get("@id")): e for e in (as_dict(x) for x in as_list(crate.get("@graph")))}
        descriptor = graph.get("ro-crate-metadata.json") or {}
        root = graph.get(next(iter(_ids(descriptor.get("about"))), "./"), {})
        if not root:
            raise NotFound(f"{url} is not an RO-Crate (no root data entity); check the URL")
        repos = self._repositories(root, graph)
        candidates: list[Identifier] = []
        for repo in repos:
            loc = ctx.location(repo)
            if loc.kind == "git" and loc.normalized not in {c.normalized for c in candidates}:
                candidates.append(loc)
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            return self._choices(ident, url, candidates)
        meta = FileEntry(name="ro-crate-metadata.json", url=url, size=len(resp.body),
                         checksum=f"sha256:{digest}")
        return self._crate_files(ident, url, digest, meta, root, graph)

    def _zip(self, ident: Identifier, url: str, pinned: str, ctx: ResolveContext) -> LaunchTarget:
        """A zipped crate is not downloaded while resolving; only a digest in the spec pins it."""
        if not pinned:
            ctx.mutable = True
            ctx.warn(f"the RO-Crate zip {url} is not pinned to its content; add /<sha256 of the zip> "
                     "to the rocrate/ launch link to pin it")
        checksum = f"sha256:{pinned}" if pinned else None
        return archive_target(
            ident, provider="rocrate", source=url, ref=_ref(url, pinned), launch_spec=_spec(url, pinned),
            files=(FileEntry(name=url.rsplit("/", 1)[-1], url=url, checksum=checksum),), title=url,
        )

    def _repositories(self, root: dict[str, Any], graph: dict[str, dict[str, Any]]) -> list[str]:
        """``codeRepository`` of the main entity, the root, then other code entities.

        Only ``codeRepository`` counts (and an absolute ``@id`` of the main entity):
        ``url``s of other software entities usually name the tools that made the crate.
        """
        main = [graph.get(i, {"@id": i}) for i in _ids(root.get("mainEntity"))]
        code = [e for e in graph.values() if _types(e) & {"SoftwareSourceCode", "ComputationalWorkflow"}]
        out: list[str] = []
        for entity in [*main, root, *code]:
            for value in _ids(entity.get("codeRepository")):
                if urlsplit(value).scheme == "https" and value not in out:
                    out.append(value)
        for entity in main:
            value = str(entity.get("@id", ""))
            if urlsplit(value).scheme == "https" and value not in out:
                out.append(value)
        return out

    def _choices(self, ident: Identifier, url: str, cands: list[Identifier]) -> LaunchTarget:
        return LaunchTarget(
            identifier=ident.raw, kind="git", provider="rocrate", source=url, ref="",
            launch_path="",
            choices=tuple(Choice(c.get("source"), c.get("source"), "RO-Crate code repository") for c in cands),
        )

    def _crate_files(
        self, ident: Identifier, url: str, digest: str, meta: FileEntry, root: dict[str, Any],
        graph: dict[str, dict[str, Any]],
    ) -> LaunchTarget:
        files = [meta]
        for part in _ids(root.get("hasPart")):
            entity = graph.get(part, {})
            if "File" not in _types(entity) and entity:
                continue
            if urlsplit(part).scheme or part.startswith("/") or ".." in part.split("/"):
                continue
            files.append(FileEntry(name=part, url=urljoin(url, part), checksum=_sha256_of(entity)))
        return archive_target(
            ident, provider="rocrate", source=url, ref=_ref(url, digest), launch_spec=_spec(url, digest),
            files=tuple(files), title=str(root.get("name", "")),
        )


def _sha256_of(entity: dict[str, Any]) -> str | None:
    """A File entity's own ``sha256`` property, when the crate records one."""
    value = str(entity.get("sha256", "")).lower()
    return f"sha256:{value}" if re.fullmatch(r"[0-9a-f]{64}", value) else None


def _ref(url: str, digest: str) -> str:
    return f"{url}@sha256:{digest}" if digest else url


def _spec(url: str, digest: str) -> str:
    """``<URL-encoded crate URL>[/<sha256>]``, parsed back by the ``rocrate/`` spec."""
    return quote(url, safe="") + (f"/{digest}" if digest else "")
