"""Git repositories: ls-remote semantics done right (exact refs, peeled tags, HEAD symref)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from fdo.errors import NotFound
from fdo.identifiers import ABBREV_SHA, HEX_SHA, Identifier
from fdo.resolvers.base import Outcome, ResolveContext, Resolver
from fdo.target import Choice, LaunchTarget


class Refs(Protocol):
    """What :meth:`fdo.net.Git.ls_remote` returns (``RemoteRefs``)."""

    @property
    def head_symref(self) -> str | None: ...
    @property
    def head_sha(self) -> str | None: ...
    @property
    def refs(self) -> Mapping[str, str]: ...
    @property
    def peeled(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class RefPick:
    """A ref resolved to a commit: ``name`` is the full ref name ("" for a bare SHA)."""

    sha: str
    name: str
    tag_object: str = ""
    path: str = ""
    advertised: bool = True


def pick_ref(remote: Refs, ref: str, kind: str) -> RefPick | list[RefPick]:
    """Resolve ``ref`` against the advertised refs; a list means ambiguous (branch and tag)."""
    if ref in ("", "HEAD"):
        if not remote.head_sha:
            raise NotFound("the repository has no default branch (HEAD); give a branch, tag or commit")
        return RefPick(remote.head_sha, remote.head_symref or "HEAD")
    if HEX_SHA.match(ref):
        shas = set(remote.refs.values()) | set(remote.peeled.values())
        return RefPick(ref, "", advertised=ref in shas)
    if ref.startswith("refs/"):
        exact = _exact(remote, ref)
        if exact is None:
            raise NotFound(f"no ref named {ref} in the repository; check the name")
        return exact
    segments = ref.split("/")
    split_path = kind.startswith("tree")
    for cut in range(len(segments), 0, -1) if split_path else (len(segments),):
        name, path = "/".join(segments[:cut]), "/".join(segments[cut:])
        found: list[RefPick | None] = []
        if kind not in ("tag", "tree-tag"):
            found.append(_exact(remote, f"refs/heads/{name}"))
        if kind not in ("branch", "tree-branch"):
            found.append(_exact(remote, f"refs/tags/{name}"))
        picks = [RefPick(p.sha, p.name, p.tag_object, path) for p in found if p is not None]
        if len(picks) == 1:
            return picks[0]
        if len(picks) > 1:
            return picks if picks[0].sha != picks[1].sha else picks[1]
    if kind == "commit" or ABBREV_SHA.match(ref):
        matches = {s for s in (*remote.refs.values(), *remote.peeled.values()) if s.startswith(ref)}
        if kind == "commit" and len(matches) == 1:
            return RefPick(matches.pop(), "")
        raise NotFound(
            f"'{ref}' looks like an abbreviated commit SHA, which Git cannot look up remotely; "
            "give the full 40-character SHA"
        )
    raise NotFound(f"no branch or tag named '{ref}' in the repository; check the name or give a full commit SHA")


def _exact(remote: Refs, full: str) -> RefPick | None:
    sha = remote.refs.get(full)
    if sha is None:
        return None
    peeled = remote.peeled.get(full)
    if peeled:
        return RefPick(peeled, full, tag_object=sha)
    return RefPick(sha, full)


def spec_for(ident: Identifier, ref: str) -> str:
    """The BinderHub spec (without ``v2/``) that names this repository at ``ref``."""
    provider = ident.get("provider", "git")
    if provider in ("gh", "gist"):
        return f"{provider}/{ident.get('owner')}/{ident.get('repo')}/{ref}"
    if provider == "gl":
        return f"gl/{quote(ident.get('project'), safe='')}/{ref}"
    return f"git/{quote(ident.get('url'), safe='')}/{ref}"


def git_target(ident: Identifier, sha: str, ref_name: str = "") -> LaunchTarget:
    provider = ident.get("provider", "git")
    source = ident.get("source") or ident.get("url")
    ref_url = {
        "gh": f"{source}/tree/{sha}",
        "gl": f"{source}/-/tree/{sha}",
        "gist": f"{source}/{sha}",
    }.get(provider, "")
    title = ident.get("project") or "/".join(source.rstrip("/").split("/")[-2:])
    provenance = {"git_url": source}
    if ref_name:
        provenance["git_ref"] = ref_name
    return LaunchTarget(
        identifier=ident.raw or ident.normalized,
        kind="git",
        provider=provider,
        source=source,
        ref=sha,
        launch_path=f"v2/{spec_for(ident, sha)}",
        title=title,
        ref_url=ref_url,
        provenance=provenance,
    )


class GitResolver(Resolver):
    """Any Git repository over https (and ssh when the operator allows it)."""

    name = "git"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "git"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        remote = ctx.git.ls_remote(ident.get("url"))
        picked = pick_ref(remote, ident.get("ref"), ident.get("ref_kind"))
        if isinstance(picked, list):
            return self._choices(ident, picked)
        if picked.name:
            ctx.mutable = True  # branches move, and most forges let tags be moved too
        target = git_target(ident, picked.sha, picked.name)
        ctx.hop(ident.normalized, f"{target.source}@{picked.sha}", f"git ls-remote {picked.name or 'sha'}")
        prov = dict(target.provenance)
        if picked.tag_object:
            prov["git_tag_object"] = picked.tag_object
        if picked.path:
            prov["path"] = picked.path
        if not picked.advertised:
            ctx.warn(
                f"commit {picked.sha[:12]} is not the tip of any branch or tag; "
                "it is verified when the repository is fetched"
            )
        return target.with_(provenance=prov)

    def _choices(self, ident: Identifier, picks: list[RefPick]) -> LaunchTarget:
        choices = tuple(
            Choice(
                identifier=spec_for(ident, p.name),
                label=f"{'branch' if p.name.startswith('refs/heads/') else 'tag'} "
                f"{p.name.split('/', 2)[2]} (commit {p.sha[:12]})",
                reason=f"both a branch and a tag are named '{ident.get('ref')}'",
            )
            for p in picks
        )
        base = git_target(ident, "", "")
        return base.with_(ref="", launch_path="", ref_url="", choices=choices)
