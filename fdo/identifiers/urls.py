"""Classify ``http(s)`` URLs: PID proxies, data repositories, RSD pages, RO-Crates, forges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from fdo.errors import MalformedIdentifier, RefusedTarget
from fdo.identifiers import pids
from fdo.identifiers._base import Identifier, malformed
from fdo.identifiers.forges import forge_url

#: DNS zones that only exist inside private networks (Kubernetes, mDNS, cloud metadata)
_INTERNAL_SUFFIXES = (
    ".svc", ".cluster.local", ".local", ".internal", ".localhost", ".localdomain",
    ".home.arpa",
)
_RSD_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HYDRO_ID = re.compile(r"^[0-9a-f]{32}$")
_INVENIO_ID = re.compile(r"^(?:\d+|[0-9a-z]{5}-[0-9a-z]{5})$")


@dataclass(frozen=True)
class KnownHosts:
    """Hosts recognised by URL shape; operators extend these through the resolver config."""

    zenodo: frozenset[str] = frozenset({"zenodo.org", "sandbox.zenodo.org"})
    invenio: frozenset[str] = frozenset({"rogue-scholar.org", "data.caltech.edu"})
    figshare: frozenset[str] = frozenset({"figshare.com"})
    dataverse: frozenset[str] = frozenset({"dataverse.harvard.edu", "demo.dataverse.org"})
    hydroshare: frozenset[str] = frozenset({"www.hydroshare.org", "hydroshare.org"})
    ckan: frozenset[str] = frozenset({"data.depositar.io", "demo.ckan.org"})
    rsd: frozenset[str] = frozenset(
        {"nfdi.software", "research-software-directory.org", "helmholtz.software"}
    )


DEFAULT_HOSTS = KnownHosts()


def parse_url(text: str, raw: str, hosts: KnownHosts, *, location: bool) -> Identifier:
    """Classify one URL; unknown pages are Git repositories (user input) or ``url`` (records)."""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise malformed(f"URL scheme '{scheme}:' is not allowed", "use an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise malformed("URL contains a user name or password", "remove the credentials from the URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise malformed("URL has no host", "paste the full https:// URL")
    if ("." not in host.strip(".") and ":" not in host) or host.rstrip(".").endswith(_INTERNAL_SUFFIXES):
        raise RefusedTarget(
            f"refused host '{host[:60]}': single-label and internal names point into a private network; "
            "use the repository's public URL"
        )
    try:
        _ = parts.port
    except ValueError as err:
        raise malformed("URL has an invalid port", "fix the port number") from err
    if host in ("doi.org", "dx.doi.org", "www.doi.org"):
        ident = pids.parse_doi(text, raw)
        assert ident is not None
        return ident
    if host == "hdl.handle.net":
        hdl = pids.parse_handle(text, raw)
        assert hdl is not None
        return hdl
    if host == "archive.softwareheritage.org" and "/swh:" in parts.path:
        return pids.parse_swhid(text[text.index("swh:") :], raw, explicit=True) or _never()
    path = parts.path
    lowpath = path.lower()
    if lowpath.endswith(("/ro-crate-metadata.json", ".crate.zip")):
        return rocrate_identifier(text, raw)
    segments = [s for s in path.split("/") if s]
    try:
        found = _provider_page(host, segments, parts.query, text, raw, hosts)
    except MalformedIdentifier:
        if not location:
            raise
        found = None  # e.g. a direct file link on a repository host inside a record
    if found is not None:
        return found
    if location and not lowpath.endswith(".git") and host not in _FORGE_HOSTS:
        return Identifier("url", text, {"url": text}, raw)
    return forge_url(text, raw)


_FORGE_HOSTS = frozenset(
    {"github.com", "gitlab.com", "codeberg.org", "bitbucket.org", "gist.github.com", "gitea.com"}
)


def _never() -> Identifier:
    raise AssertionError("unreachable")


def _provider_page(
    host: str, segs: list[str], query: str, text: str, raw: str, hosts: KnownHosts
) -> Identifier | None:
    q = parse_qs(query)
    if host in hosts.zenodo:
        return _zenodo(host, segs, raw)
    if host in hosts.invenio and len(segs) == 2 and segs[0] == "records":
        if not _INVENIO_ID.match(segs[1]):
            raise malformed(f"'{segs[1][:40]}' is not a record id", "paste the record URL")
        return Identifier("invenio", f"invenio:{host}/{segs[1]}", {"host": host, "recid": segs[1]}, raw)
    if host in hosts.figshare or host.endswith(".figshare.com"):
        return _figshare(host, segs, raw)
    if host in hosts.dataverse or (segs[-1:] in (["dataset.xhtml"], ["citation"]) and q):
        pid = (q.get("persistentId") or [""])[0]
        if not pid:
            raise malformed("Dataverse URL has no persistentId", "paste the dataset's DOI")
        ident = pids.parse_doi(pid, raw, explicit=True, hint="dataverse")
        assert ident is not None
        ident.parts["host"] = host
        version = (q.get("version") or [""])[0]
        if re.fullmatch(r"\d+\.\d+", version):
            ident.parts["version"] = version
        return Identifier("dataverse", ident.normalized, ident.parts, raw)
    if host in hosts.hydroshare and len(segs) >= 2 and segs[0] == "resource":
        if not _HYDRO_ID.match(segs[1]):
            raise malformed("HydroShare resource id must be 32 hex digits", "paste the resource URL")
        return Identifier("hydroshare", f"hydroshare:{segs[1]}", {"id": segs[1]}, raw)
    if host in hosts.ckan and "dataset" in segs:
        return ckan_url(text, raw)
    if host in hosts.rsd and len(segs) == 2 and segs[0] == "software":
        return rsd_identifier(host, segs[1], raw)
    return None


def _zenodo(host: str, segs: list[str], raw: str) -> Identifier:
    recid = ""
    if len(segs) >= 2 and segs[0] in ("record", "records"):
        recid = segs[1]
    elif len(segs) >= 3 and segs[:2] == ["api", "records"]:
        recid = segs[2]
    elif len(segs) >= 3 and segs[0] == "doi":
        doi = "/".join(segs[1:])
        recid = doi.rsplit("zenodo.", 1)[-1] if "zenodo." in doi else ""
    if not recid.isdigit():
        raise malformed("Zenodo URL does not name a record", "paste https://zenodo.org/records/<id>")
    return Identifier("zenodo", f"zenodo:{host}/{recid}", {"host": host, "recid": recid}, raw)


def _figshare(host: str, segs: list[str], raw: str) -> Identifier:
    nums = [i for i, s in enumerate(segs) if s.isdigit()]
    if not segs or segs[0] != "articles" or not nums:
        raise malformed("Figshare URL does not name an article", "paste the article's DOI")
    first = nums[0]
    article = segs[first]
    version = segs[first + 1] if first + 1 < len(segs) and segs[first + 1].isdigit() else ""
    parts = {"host": host, "id": article}
    if version:
        parts["version"] = version
    norm = f"figshare:{article}" + (f".v{version}" if version else "")
    return Identifier("figshare", norm, parts, raw)


def ckan_url(text: str, raw: str) -> Identifier:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise malformed("CKAN spec is not an http(s) URL", "URL-encode the dataset URL")
    segs = [s for s in parts.path.split("/") if s]
    if "dataset" not in segs or segs.index("dataset") + 1 >= len(segs):
        raise malformed("CKAN URL has no /dataset/<name>", "paste the dataset page URL")
    cut = segs.index("dataset")
    dataset = segs[cut + 1]
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", dataset):
        raise malformed("CKAN dataset name is not valid", "paste the dataset page URL")
    activity = (parse_qs(parts.query).get("activity_id") or [""])[0]
    if len(segs) > cut + 3 and segs[cut + 2] == "history":
        activity = segs[cut + 3]
    if activity and not re.fullmatch(r"[0-9a-f-]{8,64}", activity):
        raise malformed("CKAN activity id is not valid", "copy the activity link again")
    base = f"{parts.scheme}://{parts.netloc}" + ("/" + "/".join(segs[:cut]) if cut else "")
    out = {"base": base, "dataset": dataset, "url": f"{base}/dataset/{dataset}"}
    if activity:
        out["activity_id"] = activity
    norm = f"ckan:{base}/dataset/{dataset}" + (f"@{activity}" if activity else "")
    return Identifier("ckan", norm, out, raw)


def rocrate_identifier(url: str, raw: str, sha256: str = "") -> Identifier:
    """An RO-Crate URL, optionally pinned to the sha256 of its metadata file (or zip)."""
    if not sha256:
        return Identifier("rocrate", url, {"url": url}, raw)
    return Identifier("rocrate", f"{url}@sha256:{sha256}", {"url": url, "sha256": sha256}, raw)


def rsd_identifier(host: str, slug: str, raw: str) -> Identifier:
    if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", host):
        raise malformed(f"'{host[:60]}' is not a software directory host", "use e.g. nfdi.software")
    if not _RSD_SLUG.match(slug):
        raise malformed(f"'{slug[:60]}' is not a software slug", "copy the slug from the page URL")
    return Identifier("rsd", f"rsd:{host}/{slug}", {"host": host, "slug": slug}, raw)
