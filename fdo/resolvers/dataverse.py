"""Dataverse: always an explicit dataset version (``latestVersion`` number, then that version)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fdo.errors import NotFound, UnsupportedIdentifier
from fdo.identifiers import Identifier, WebUrl, malformed, pids
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry


def dataverse_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """``dataset.xhtml?persistentId=doi:...[&version=x.y]`` on a known host, or that shape anywhere."""
    shaped = url.segments[-1:] in (["dataset.xhtml"], ["citation"]) and bool(url.query)
    if url.host not in hosts and not shaped:
        return None
    pid = url.param("persistentId")
    if not pid:
        raise malformed("Dataverse URL has no persistentId", "paste the dataset's DOI")
    ident = pids.doi(pid, raw, hint="dataverse")
    ident.parts["host"] = url.host
    version = url.param("version")
    if re.fullmatch(r"\d+\.\d+", version):
        ident.parts["version"] = version
    return Identifier("dataverse", ident.normalized, ident.parts, raw)


class DataverseResolver(Resolver):
    name = "dataverse"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "dataverse"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        host, doi = ident.get("host"), ident.get("doi")
        if not host:
            raise UnsupportedIdentifier("Dataverse dataset without a host; paste its DOI instead")
        pid = quote(f"doi:{doi}", safe=":/")
        base = f"https://{host}/api/datasets/:persistentId"
        version = ident.get("version")
        if not version:
            latest = as_dict(as_dict(ctx.http.get_json(f"{base}?persistentId={pid}")).get("data"))
            lv = as_dict(latest.get("latestVersion"))
            if lv.get("versionState") not in ("RELEASED", None) or "versionNumber" not in lv:
                raise NotFound(f"Dataverse dataset doi:{doi} has no released version")
            version = f"{lv['versionNumber']}.{lv.get('versionMinorNumber', 0)}"
            ctx.mutable = True
            ctx.warn(f"Dataverse dataset doi:{doi} pinned to its latest released version {version}")
            ctx.hop(f"dataverse:doi:{doi}", f"dataverse:doi:{doi}@{version}", "latest version")
        data = as_dict(
            as_dict(ctx.http.get_json(f"{base}/versions/{version}?persistentId={pid}")).get("data")
        )
        files = self._files(host, data, ctx)
        title = _citation_title(data)
        return archive_target(
            ident,
            provider="dataverse",
            source=f"https://{host}/dataset.xhtml?persistentId=doi:{doi}",
            ref=f"doi:{doi}@{version}",
            launch_spec=f"{doi}@{version}",
            files=files,
            title=title,
            ref_url=f"https://{host}/dataset.xhtml?persistentId=doi:{doi}&version={version}",
        ).with_(provenance={"doi": doi, "version": version, "host": host})

    def _files(self, host: str, data: dict[str, Any], ctx: ResolveContext) -> tuple[FileEntry, ...]:
        out = []
        for item in as_list(data.get("files")):
            item = as_dict(item)
            df = as_dict(item.get("dataFile"))
            if item.get("restricted") or "id" not in df:
                ctx.warn(f"skipped restricted file {item.get('label', '?')}")
                continue
            original = df.get("originalFileName")
            name = str(original or df.get("filename") or item.get("label"))
            folder = str(item.get("directoryLabel") or "")
            url = f"https://{host}/api/access/datafile/{df['id']}" + ("?format=original" if original else "")
            checksum = as_dict(df.get("checksum"))
            algo = str(checksum.get("type", "")).lower().replace("-", "")
            value = checksum.get("value") or df.get("md5")
            size = df.get("originalFileSize") if original else df.get("filesize")
            # Dataverse checksums describe the stored file, not the original of a tabular file.
            out.append(
                FileEntry(
                    name=f"{folder}/{name}" if folder else name,
                    url=url,
                    size=size if isinstance(size, int) else None,
                    checksum=f"{algo or 'md5'}:{value}" if value and not original else None,
                )
            )
        if not out:
            raise NotFound("the Dataverse dataset version has no public files; nothing to launch")
        return tuple(out)


def _citation_title(data: dict[str, Any]) -> str:
    fields = as_list(as_dict(as_dict(data.get("metadataBlocks")).get("citation")).get("fields"))
    for field in fields:
        field = as_dict(field)
        if field.get("typeName") == "title":
            return str(field.get("value", ""))
    return ""
