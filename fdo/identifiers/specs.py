"""BinderHub launch specs (``gh/o/r/ref``, ``zenodo/<doi>``, ...) and our additions."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fdo.identifiers import pids
from fdo.identifiers._base import Identifier, malformed
from fdo.identifiers.forges import git_identifier, parse_ssh
from fdo.identifiers.urls import KnownHosts, ckan_url, parse_url, rocrate_identifier, rsd_identifier

SPEC_PROVIDERS = frozenset(
    {
        "gh",
        "gl",
        "git",
        "gist",
        "zenodo",
        "figshare",
        "dataverse",
        "hydroshare",
        "ckan",
        "doi",
        "hdl",
        "swhid",
        "rsd",
        "rocrate",
    }
)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_spec(text: str) -> bool:
    head = text.removeprefix("/").removeprefix("v2/").split("/", 1)[0]
    return head in SPEC_PROVIDERS and "/" in text


def parse_spec(text: str, raw: str, hosts: KnownHosts) -> Identifier:
    body = text.removeprefix("/").removeprefix("v2/")
    provider, _, rest = body.partition("/")
    if not rest:
        raise malformed(f"'{provider}/' spec is empty", f"write {provider}/<...> as in a Binder link")
    if provider == "gh":
        return _gh(rest, raw)
    if provider == "gl":
        return _gl(rest, raw)
    if provider == "git":
        return _git(rest, raw, hosts)
    if provider == "gist":
        return _gist(rest, raw)
    if provider in ("zenodo", "figshare", "dataverse", "doi"):
        hint = "" if provider == "doi" else provider
        ident = pids.parse_doi(unquote(rest), raw, explicit=True, hint=hint)
        assert ident is not None
        return ident
    if provider == "hydroshare":
        rid = rest.strip("/").split("/")[-1]
        if not re.fullmatch(r"[0-9a-f]{32}", rid):
            raise malformed("HydroShare id must be 32 hex digits", "write hydroshare/<resource id>")
        return Identifier("hydroshare", f"hydroshare:{rid}", {"id": rid}, raw)
    if provider == "ckan":
        return ckan_url(unquote(rest), raw)
    if provider == "hdl":
        hdl = pids.parse_handle(unquote(rest), raw, explicit=True)
        assert hdl is not None
        return hdl
    if provider == "swhid":
        swh = pids.parse_swhid(unquote(rest), raw, explicit=True)
        assert swh is not None
        return swh
    if provider == "rocrate":
        return _rocrate(rest, raw, hosts)
    host, _, slug = rest.partition("/")
    return rsd_identifier(host.lower(), slug.strip("/"), raw)


def _split_ref(rest: str, n: int, usage: str) -> tuple[list[str], str]:
    segments = rest.split("/")
    if len(segments) < n:
        raise malformed("spec is too short", f"write {usage}")
    head = segments[:n]
    for seg in head:
        if not _NAME.match(seg) or seg in (".", ".."):
            raise malformed(f"'{seg[:60]}' is not a valid name in the spec", f"write {usage}")
    ref = "/".join(segments[n:])
    if ref == "":
        ref = "HEAD"
    return head, unquote(ref)


def _gh(rest: str, raw: str) -> Identifier:
    (owner, repo), ref = _split_ref(rest, 2, "gh/<owner>/<repo>/<ref>")
    repo = repo.removesuffix(".git")
    return git_identifier(
        f"https://github.com/{owner}/{repo}",
        raw,
        provider="gh",
        ref="" if ref == "HEAD" else ref,
        ref_kind="spec",
        extra={"owner": owner, "repo": repo},
    )


def _gl(rest: str, raw: str) -> Identifier:
    encoded, _, ref = rest.partition("/")
    project = unquote(encoded)
    segments = project.split("/")
    if len(segments) < 2 or any(not _NAME.match(s) or s in (".", "..") for s in segments):
        raise malformed("GitLab spec needs an URL-encoded <group>/<project>", "write gl/<group>%2F<project>/<ref>")
    project = project.removesuffix(".git")
    ref = unquote(ref)
    return git_identifier(
        f"https://gitlab.com/{project}",
        raw,
        provider="gl",
        ref="" if ref in ("", "HEAD") else ref,
        ref_kind="spec",
        extra={"project": project},
    )


def _git(rest: str, raw: str, hosts: KnownHosts) -> Identifier:
    encoded, _, ref = rest.partition("/")
    url = unquote(encoded)
    ref = unquote(ref)
    low = url.lower()
    if low.startswith(("http://", "https://")):
        base = parse_url(url, raw, hosts, location=False)
    elif low.startswith("ssh://") or "@" in url.split("/", 1)[0]:
        base = parse_ssh(url, raw) or _bad_git(url)
    else:
        return _bad_git(url)
    if base.kind != "git":
        raise malformed("git/ spec does not contain a Git repository URL", "use the doi/ or hdl/ spec")
    return git_identifier(
        base.parts["url"],
        raw,
        provider="git",
        ref="" if ref in ("", "HEAD") else ref,
        ref_kind="spec",
    )


def _rocrate(rest: str, raw: str, hosts: KnownHosts) -> Identifier:
    """``rocrate/<url-encoded crate URL>[/<sha256 of the metadata file or zip>]``."""
    encoded, _, digest = rest.partition("/")
    url = unquote(encoded)
    usage = "write rocrate/<URL-encoded .../ro-crate-metadata.json or .crate.zip URL>/<sha256>"
    if not url.lower().startswith(("https://", "http://")):
        raise malformed("rocrate/ spec does not contain an http(s) URL", usage)
    if parse_url(url, raw, hosts, location=False).kind != "rocrate":
        raise malformed("rocrate/ spec does not name an RO-Crate", usage)
    digest = digest.strip("/").lower()
    if digest and not _SHA256.match(digest):
        raise malformed(f"'{digest[:70]}' is not a sha256 digest (64 hex digits)", usage)
    return rocrate_identifier(url, raw, digest)


def _bad_git(url: str) -> Identifier:
    raise malformed(
        f"'{url[:60]}' is not an allowed Git URL (only https, http and ssh)",
        "URL-encode an https:// repository URL after git/",
    )


def _gist(rest: str, raw: str) -> Identifier:
    (user, gist_id), ref = _split_ref(rest, 2, "gist/<user>/<id>/<ref>")
    if not re.fullmatch(r"[0-9a-f]{5,40}", gist_id):
        raise malformed(f"'{gist_id[:60]}' is not a gist id", "write gist/<user>/<id>/<ref>")
    ident = git_identifier(
        f"https://gist.github.com/{gist_id}.git",
        raw,
        provider="gist",
        ref="" if ref == "HEAD" else ref,
        ref_kind="spec",
        extra={"owner": user, "repo": gist_id},
    )
    ident.parts["source"] = f"https://gist.github.com/{user}/{gist_id}"
    return ident
