"""BinderHub's Git launch specs: ``gh/o/r/ref``, ``gl/<group%2Fproject>/ref``, ``git/<url>/ref``,
``gist/u/id/ref``. Which parser a spec goes to is the provider table's business."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fdo.identifiers._base import Identifier, malformed
from fdo.identifiers.forges import git_identifier, parse_ssh
from fdo.identifiers.urls import Classifier

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


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


def gh_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
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


def gl_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
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


def git_spec(rest: str, raw: str, table: Classifier) -> Identifier:
    encoded, _, ref = rest.partition("/")
    url = unquote(encoded)
    ref = unquote(ref)
    low = url.lower()
    if low.startswith(("http://", "https://")):
        base = table.url(url, raw)
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


def _bad_git(url: str) -> Identifier:
    raise malformed(
        f"'{url[:60]}' is not an allowed Git URL (only https, http and ssh)",
        "URL-encode an https:// repository URL after git/",
    )


def gist_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
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
