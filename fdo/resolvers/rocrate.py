"""RO-Crates: the code repository named by ``mainEntity``/``codeRepository``, else the crate's files."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from fdo.errors import NotFound
from fdo.identifiers import Identifier
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import Choice, FileEntry, LaunchTarget


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
        url = ident.get("url")
        if url.lower().endswith(".zip"):
            return archive_target(
                ident, provider="rocrate", source=url, ref=url, launch_spec=url,
                files=(FileEntry(name=url.rsplit("/", 1)[-1], url=url),), title=url,
            ).with_(launch_path="")
        crate = as_dict(ctx.http.get_json(url, headers={"Accept": "application/ld+json, application/json"}))
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
        return self._crate_files(ident, url, root, graph)

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
        self, ident: Identifier, url: str, root: dict[str, Any], graph: dict[str, dict[str, Any]]
    ) -> LaunchTarget:
        files = [FileEntry(name="ro-crate-metadata.json", url=url)]
        for part in _ids(root.get("hasPart")):
            entity = graph.get(part, {})
            if "File" not in _types(entity) and entity:
                continue
            if urlsplit(part).scheme or part.startswith("/") or ".." in part.split("/"):
                continue
            files.append(FileEntry(name=part, url=urljoin(url, part)))
        return archive_target(
            ident, provider="rocrate", source=url, ref=url, launch_spec=url, files=tuple(files),
            title=str(root.get("name", "")),
        ).with_(launch_path="")
