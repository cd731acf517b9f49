"""Zenodo and other InvenioRDM repositories: version records, files, GitHub-release provenance."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from traitlets import Bool

from fdo.errors import NotFound, ResolveError
from fdo.identifiers import Classifier, Identifier, WebUrl, malformed
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.resolvers.git import pick_ref
from fdo.target import FileEntry, LaunchTarget

_TREE = re.compile(r"^https://github\.com/(?P<repo>[^/]+/[^/]+)/tree/(?P<tag>.+)$")
_INVENIO_ID = re.compile(r"^(?:\d+|[0-9a-z]{5}-[0-9a-z]{5})$")


def zenodo_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """``/records/<id>``, ``/record/<id>``, ``/api/records/<id>``, ``/doi/10.5281/zenodo.<id>``."""
    if url.host not in hosts:
        return None
    segs, recid = url.segments, ""
    if len(segs) >= 2 and segs[0] in ("record", "records"):
        recid = segs[1]
    elif len(segs) >= 3 and segs[:2] == ["api", "records"]:
        recid = segs[2]
    elif len(segs) >= 3 and segs[0] == "doi":
        doi = "/".join(segs[1:])
        recid = doi.rsplit("zenodo.", 1)[-1] if "zenodo." in doi else ""
    if not recid.isdigit():
        raise malformed("Zenodo URL does not name a record", "paste https://zenodo.org/records/<id>")
    return Identifier("zenodo", f"zenodo:{url.host}/{recid}", {"host": url.host, "recid": recid}, raw)


def invenio_spec(rest: str, raw: str, table: Classifier) -> Identifier:
    """``invenio/<host>/<record id>``: the launch spec of a record without a DOI, on an
    InvenioRDM host the operator knows (an unknown host is refused, never queried)."""
    host, _, recid = unquote(rest).partition("/")
    if not host or not recid or not _INVENIO_ID.match(recid.rstrip("/")):
        raise malformed("invenio spec is not <host>/<record id>", "paste the record URL")
    ident = table.url(f"https://{host}/records/{recid.rstrip('/')}", raw)
    if ident.kind not in ("invenio", "zenodo"):  # Zenodo is InvenioRDM too
        raise malformed(f"'{host[:60]}' is not an InvenioRDM host this launcher knows",
                        "paste the record URL, or ask the operator to add the host")
    return ident


def invenio_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """``https://<InvenioRDM host>/records/<id>``."""
    segs = url.segments
    if url.host not in hosts or len(segs) != 2 or segs[0] != "records":
        return None
    if not _INVENIO_ID.match(segs[1]):
        raise malformed(f"'{segs[1][:40]}' is not a record id", "paste the record URL")
    return Identifier("invenio", f"invenio:{url.host}/{segs[1]}", {"host": url.host, "recid": segs[1]}, raw)


def record_files(record: dict[str, Any]) -> tuple[FileEntry, ...]:
    """Files of a legacy (``files[]``) or native (``files.entries{}``) Invenio record."""
    raw = record.get("files")
    items: list[dict[str, Any]] = []
    if isinstance(raw, list):
        items = [as_dict(f) for f in raw]
    elif isinstance(raw, dict):
        entries = raw.get("entries")
        items = [as_dict(e) for e in (entries.values() if isinstance(entries, dict) else as_list(entries))]
    out = []
    for item in items:
        links = as_dict(item.get("links"))
        url = str(links.get("content") or links.get("self") or "")
        name = str(item.get("key") or item.get("filename") or "")
        if not url or not name:
            continue
        size = item.get("size") if isinstance(item.get("size"), int) else None
        checksum = item.get("checksum")
        out.append(FileEntry(name, url, size, str(checksum) if checksum else None))
    return tuple(sorted(out, key=lambda f: f.name))


class InvenioResolver(Resolver):
    """Native InvenioRDM hosts (``/api/records/<id>``), e.g. rogue-scholar.org."""

    name = "invenio"
    provider = "invenio"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "invenio"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        host, recid = ident.get("host"), ident.get("recid")
        record = as_dict(ctx.http.get_json(f"https://{host}/api/records/{recid}"))
        record = self._pin_version(record, recid, ctx)
        return self._target(ident, host, record, ctx)

    def _pin_version(self, record: dict[str, Any], recid: str, ctx: ResolveContext) -> dict[str, Any]:
        """A concept (parent) id is pinned to its latest version, with a warning."""
        got = str(record.get("id", ""))
        concept = str(record.get("conceptrecid") or as_dict(record.get("parent")).get("id") or "")
        if got == recid and concept != recid:
            return record
        if got == recid:
            latest = str(as_dict(record.get("links")).get("latest") or "")
            if not latest:
                raise NotFound(f"record {recid} is a concept without versions; pick a version")
            record = as_dict(ctx.http.get_json(latest))
            got = str(record.get("id", ""))
        ctx.mutable = True
        ctx.warn(f"record {recid} names all versions; pinned to the latest version, record {got}")
        ctx.hop(f"{self.provider}:{recid}", f"{self.provider}:{got}", "latest version")
        return record

    def _launch_path(self, doi: str, host: str, recid: str) -> str:
        # without a DOI: the invenio spec, which /build accepts for any known host
        return f"v2/doi/{doi}" if doi else f"v2/invenio/{host}/{recid}"

    def _target(self, ident: Identifier, host: str, record: dict[str, Any], ctx: ResolveContext) -> LaunchTarget:
        recid = str(record.get("id", ""))
        files = record_files(record)
        if not files:
            files = self._file_listing(record, ctx)
        if not files:
            raise NotFound(
                f"record {recid} on {host} has no public files (metadata-only or restricted); "
                "nothing to launch"
            )
        meta = as_dict(record.get("metadata"))
        doi = str(record.get("doi") or as_dict(as_dict(record.get("pids")).get("doi")).get("identifier") or "")
        version = str(meta.get("version") or "")
        target = archive_target(
            ident,
            provider=self.provider,
            source=f"https://{host}/records/{recid}",
            ref=f"{recid}@{version}" if version else recid,
            launch_path=self._launch_path(doi, host, recid),
            files=files,
            title=str(meta.get("title") or record.get("title") or ""),
            ref_url=f"https://{host}/records/{recid}",
        )
        swhid = str(as_dict(record.get("swh")).get("swhid") or "")
        prov = {"record": recid}
        if doi:
            prov["doi"] = doi
        if swhid:
            prov["swhid"] = swhid
        prov.update(self._github_release(meta, ctx))
        return target.with_(provenance=prov)

    def _file_listing(self, record: dict[str, Any], ctx: ResolveContext) -> tuple[FileEntry, ...]:
        files = as_dict(record.get("files"))
        link = str(as_dict(record.get("links")).get("files") or "")
        if isinstance(record.get("files"), dict) and not files.get("enabled", True):
            return ()
        if not link:
            return ()
        return record_files({"files": ctx.http.get_json(link)})

    def _github_release(self, meta: dict[str, Any], ctx: ResolveContext) -> dict[str, str]:
        """GitHub-release records: git tag + commit as provenance; the files stay the content."""
        for rel in as_list(meta.get("related_identifiers")):
            rel = as_dict(rel)
            if str(rel.get("relation", "")).lower() != "issupplementto" or rel.get("scheme") != "url":
                continue
            m = _TREE.match(str(rel.get("identifier", "")))
            if not m:
                continue
            repo, tag = f"https://github.com/{m.group('repo')}", m.group("tag")
            prov = {"git_url": repo, "git_tag": tag}
            try:
                picked = pick_ref(ctx.git.ls_remote(repo), f"refs/tags/{tag}", "tag")
            except ResolveError as err:
                ctx.warn(f"could not check Git tag {tag} of {repo}: {err}")
                return prov
            if not isinstance(picked, list):
                prov["git_commit"] = picked.sha
            return prov
        return {}


class ZenodoResolver(InvenioResolver):
    """Zenodo (current and legacy JSON); concept records are pinned to the latest version."""

    name = "zenodo"
    provider = "zenodo"

    check_github_tag = Bool(
        True,
        help="""For Zenodo records of GitHub releases, look up the release's Git tag with
        ls-remote and record the commit as provenance (the Zenodo files stay the content).""",
    ).tag(config=True)

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "zenodo"

    def _launch_path(self, doi: str, host: str, recid: str) -> str:
        return f"v2/zenodo/{doi}" if doi else super()._launch_path(doi, host, recid)

    def _github_release(self, meta: dict[str, Any], ctx: ResolveContext) -> dict[str, str]:
        if not self.check_github_tag:
            return {}
        return super()._github_release(meta, ctx)
