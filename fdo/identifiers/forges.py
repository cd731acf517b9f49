"""Git URLs and forge UI URLs (GitHub, GitLab, Gitea/Codeberg, Bitbucket, gists)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from fdo.identifiers._base import Identifier, malformed

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SSH_SHORT = re.compile(r"^([A-Za-z0-9_.+-]+)@([A-Za-z0-9.-]+):(?!/)(.+)$")
HEX_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
ABBREV_SHA = re.compile(r"^[0-9a-f]{7,39}$")
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")

GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
GIST_HOSTS = frozenset({"gist.github.com"})
GITLAB_HOSTS = frozenset({"gitlab.com", "www.gitlab.com"})
GITEA_HOSTS = frozenset({"codeberg.org", "gitea.com"})
BITBUCKET_HOSTS = frozenset({"bitbucket.org"})
#: hosts whose every page belongs to a Git repository (never a landing page)
FORGE_HOSTS = GITHUB_HOSTS | GIST_HOSTS | GITLAB_HOSTS | GITEA_HOSTS | BITBUCKET_HOSTS


def check_ref(ref: str) -> str:
    """Validate a user ref like ``git check-ref-format --allow-onelevel`` (and refuse options)."""
    if not ref or ref == "HEAD":
        return ref
    bad = (
        ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or ".." in ref
        or "//" in ref
        or "@{" in ref
        or ref == "@"
        or bool(_BAD_REF.search(ref))
        or any(seg.startswith(".") or seg.endswith(".lock") for seg in ref.split("/"))
        or len(ref) > 255
    )
    if bad:
        raise malformed(
            f"'{ref[:80]}' is not a valid Git ref name",
            "give a branch, tag or full commit SHA as shown on the repository page",
        )
    return ref


def _name(segment: str, what: str) -> str:
    if not _NAME.match(segment) or segment in (".", ".."):
        raise malformed(f"'{segment[:80]}' is not a valid {what} name", f"check the {what} in the URL")
    return segment


def git_identifier(
    url: str,
    raw: str,
    *,
    provider: str = "git",
    ref: str = "",
    ref_kind: str = "",
    path: str = "",
    extra: dict[str, str] | None = None,
) -> Identifier:
    """Build the ``git`` Identifier; ``url`` is the canonical clone URL."""
    check_ref(ref)
    if ref_kind == "commit" and not HEX_SHA.match(ref) and not ABBREV_SHA.match(ref):
        raise malformed(f"'{ref[:80]}' is not a commit SHA", "copy the full 40-character SHA")
    source = url[:-4] if url.endswith(".git") else url
    parts = {"url": url, "source": source, "provider": provider, "ref": ref, "ref_kind": ref_kind}
    if path:
        parts["path"] = path
    parts.update(extra or {})
    parts["host"] = urlsplit(url).hostname or ""
    normalized = f"{source}@{ref}" if ref else source
    return Identifier("git", normalized, parts, raw)


def parse_ssh(text: str, raw: str) -> Identifier | None:
    """``git@host:owner/repo.git`` and ``ssh://git@host/owner/repo.git`` -> canonical https."""
    m = _SSH_SHORT.match(text)
    if m:
        host, path = m.group(2).lower(), m.group(3)
    elif text.lower().startswith("ssh://"):
        parts = urlsplit(text)
        host, path = (parts.hostname or "").lower(), parts.path.lstrip("/")
    else:
        return None
    if not host or "." not in host:
        raise malformed(f"'{host}' is not a Git host name", "use the https URL of the repository")
    segments = [s for s in path.removesuffix(".git").split("/") if s]
    if not segments:
        raise malformed("SSH Git URL has no repository path", "use the https URL of the repository")
    for seg in segments:
        _name(seg, "repository path")
    return forge_url(f"https://{host}/{'/'.join(segments)}", raw)


def forge_url(url: str, raw: str) -> Identifier:
    """An ``http(s)`` URL that names a Git repository, possibly a forge UI page."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host in GITHUB_HOSTS:
        return _github(segments, raw)
    if host in GIST_HOSTS:
        return _gist(segments, raw)
    if host in GITLAB_HOSTS or "/-/" in parts.path:
        return _gitlab(f"{parts.scheme}://{parts.netloc}", segments, raw, gl=host in GITLAB_HOSTS)
    if host in GITEA_HOSTS or "src" in segments[2:3]:
        if host in BITBUCKET_HOSTS:
            return _bitbucket(segments, raw)
        return _gitea(f"{parts.scheme}://{parts.netloc}", segments, raw)
    if host in BITBUCKET_HOSTS:
        return _bitbucket(segments, raw)
    if not segments:
        raise malformed(f"'{url[:80]}' has no repository path", "paste the repository URL")
    for seg in segments:
        _name(seg, "repository path")
    base = f"{parts.scheme}://{parts.netloc}/{'/'.join(segments)}"
    return git_identifier(base, raw)


def _owner_repo(segments: list[str], what: str) -> tuple[str, str]:
    if len(segments) < 2:
        raise malformed(f"{what} URL needs <owner>/<repository>", "paste the repository URL")
    return _name(segments[0], "owner"), _name(segments[1].removesuffix(".git"), "repository")


def _github(segments: list[str], raw: str) -> Identifier:
    owner, repo = _owner_repo(segments, "GitHub")
    url = f"https://github.com/{owner}/{repo}"
    extra = {"owner": owner, "repo": repo}
    rest = segments[2:]
    if not rest:
        return git_identifier(url, raw, provider="gh", extra=extra)
    if rest[0] in ("tree", "blob") and len(rest) > 1:
        tail = "/".join(rest[1:])
        return git_identifier(url, raw, provider="gh", ref=tail, ref_kind="tree", extra=extra)
    if rest[0] == "commit" and len(rest) == 2:
        return git_identifier(url, raw, provider="gh", ref=rest[1], ref_kind="commit", extra=extra)
    if rest[:2] == ["releases", "tag"] and len(rest) > 2:
        tag = "/".join(rest[2:])
        return git_identifier(url, raw, provider="gh", ref=tag, ref_kind="tag", extra=extra)
    raise malformed(
        f"GitHub page '/{'/'.join(rest)[:60]}' does not name a version of the code",
        "use the repository URL, or a /tree/<ref>, /commit/<sha> or /releases/tag/<tag> URL",
    )


def _gist(segments: list[str], raw: str) -> Identifier:
    if len(segments) == 1:
        segments = ["anonymous", segments[0]]
    if len(segments) not in (2, 3):
        raise malformed("gist URL needs <user>/<id>", "paste https://gist.github.com/<user>/<id>")
    user = _name(segments[0], "gist user")
    gist_id = segments[1].removesuffix(".git")
    if not re.fullmatch(r"[0-9a-f]{5,40}", gist_id):
        raise malformed(f"'{gist_id[:60]}' is not a gist id", "paste the gist URL")
    ref = segments[2] if len(segments) == 3 else ""
    url = f"https://gist.github.com/{gist_id}.git"
    ident = git_identifier(url, raw, provider="gist", ref=ref, extra={"owner": user, "repo": gist_id})
    ident.parts["source"] = f"https://gist.github.com/{user}/{gist_id}"
    return ident


def _gitlab(base: str, segments: list[str], raw: str, *, gl: bool) -> Identifier:
    project, rest = segments, []
    if "-" in segments:
        cut = segments.index("-")
        project, rest = segments[:cut], segments[cut + 1 :]
    if len(project) < 2:
        raise malformed("GitLab URL needs <group>/<project>", "paste the project URL")
    project = [_name(s, "GitLab group or project") for s in project]
    project[-1] = project[-1].removesuffix(".git")
    path = "/".join(project)
    url = f"{base}/{path}"
    provider = "gl" if gl else "git"
    extra = {"project": path}
    if not rest:
        return git_identifier(url, raw, provider=provider, extra=extra)
    if rest[0] in ("tree", "blob") and len(rest) > 1:
        tail = "/".join(rest[1:])
        return git_identifier(url, raw, provider=provider, ref=tail, ref_kind="tree", extra=extra)
    if rest[0] == "commit" and len(rest) == 2:
        return git_identifier(url, raw, provider=provider, ref=rest[1], ref_kind="commit", extra=extra)
    if rest[0] == "tags" and len(rest) > 1:
        return git_identifier(
            url, raw, provider=provider, ref="/".join(rest[1:]), ref_kind="tag", extra=extra
        )
    raise malformed(
        f"GitLab page '/-/{'/'.join(rest)[:60]}' does not name a version of the code",
        "use the project URL, or a /-/tree/<ref> or /-/commit/<sha> URL",
    )


def _gitea(base: str, segments: list[str], raw: str) -> Identifier:
    owner, repo = _owner_repo(segments, "Gitea/Codeberg")
    url = f"{base}/{owner}/{repo}"
    rest = segments[2:]
    if not rest:
        return git_identifier(url, raw)
    kinds = {"branch": "branch", "tag": "tag", "commit": "commit"}
    if rest[0] == "src" and len(rest) > 2 and rest[1] in kinds:
        kind = kinds[rest[1]]
        if kind == "commit":
            path = "/".join(rest[3:])
            return git_identifier(url, raw, ref=rest[2], ref_kind="commit", path=path)
        return git_identifier(url, raw, ref="/".join(rest[2:]), ref_kind=f"tree-{kind}")
    if rest[0] == "commit" and len(rest) == 2:
        return git_identifier(url, raw, ref=rest[1], ref_kind="commit")
    if rest[:2] == ["releases", "tag"] and len(rest) > 2:
        return git_identifier(url, raw, ref="/".join(rest[2:]), ref_kind="tag")
    raise malformed(
        "Gitea/Codeberg page does not name a version of the code",
        "use the repository URL or a /src/{branch|tag|commit}/<ref> URL",
    )


def _bitbucket(segments: list[str], raw: str) -> Identifier:
    owner, repo = _owner_repo(segments, "Bitbucket")
    url = f"https://bitbucket.org/{owner}/{repo}"
    rest = segments[2:]
    if not rest:
        return git_identifier(url, raw)
    if rest[0] == "src" and len(rest) > 1:
        return git_identifier(url, raw, ref="/".join(rest[1:]), ref_kind="tree")
    if rest[0] in ("commits", "commit") and len(rest) == 2:
        return git_identifier(url, raw, ref=rest[1], ref_kind="commit")
    raise malformed(
        "Bitbucket page does not name a version of the code",
        "use the repository URL or a /src/<ref>/ URL",
    )
