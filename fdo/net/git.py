"""The one hardened git wrapper of ``fdo``.

Every call runs ``git`` with a clean environment (own empty ``HOME``, no system or
global config, no terminal prompt, no credential helper, no askpass), an explicit
transport allow-list (``protocol.allow=never`` + https, plus http/ssh only when
allowed), no hooks, no redirects, LFS smudging off, ``--`` before every user value and
a timeout. The URL passes :func:`fdo.net.policy.plan` first and, for http(s), git's
connection is pinned to the checked addresses (``http.curloptResolve``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin

from fdo.config import NetConfig
from fdo.errors import FetchError, NotFound, RefusedTarget, UpstreamError
from fdo.identifiers.forges import HEX_SHA
from fdo.net.policy import Destination, allowed_schemes, plan, redact_url

_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_GIT_BIN = shutil.which("git") or "/usr/bin/git"


@dataclass(frozen=True)
class RemoteRefs:
    """What ``git ls-remote --symref`` says about a repository."""

    head_symref: str | None
    head_sha: str | None
    refs: dict[str, str] = field(default_factory=dict)
    #: annotated tag ref -> commit it points to (from the ``^{}`` lines)
    peeled: dict[str, str] = field(default_factory=dict)

    def commit_of(self, ref: str) -> str | None:
        """Commit of a full ref name, peeling annotated tags."""
        return self.peeled.get(ref) or self.refs.get(ref)


def check_ref(ref: str) -> str:
    """Refuse ref names git would take as options or that are not valid ref names."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\x00\n\r \t~^:?*[\\") or ".." in ref:
        raise RefusedTarget(f"refused ref {ref[:80]!r}: not a valid git ref name")
    return ref


def normalise_git_url(url: str, config: NetConfig) -> str:
    """Turn ``git@host:path`` into ``ssh://git@host/path``; refuse option-like URLs early."""
    if url.startswith("-"):
        raise RefusedTarget(f"refused git URL {url[:80]!r}: looks like a command-line option")
    low = url.lower()
    if low.startswith("ext::") or "::" in low.split("/", 1)[0]:
        raise RefusedTarget("refused git URL: the 'ext::' (and other '<helper>::') transports run commands")
    if low.startswith("file:") or url.startswith(("/", ".")):
        raise RefusedTarget("refused git URL: local repositories (file://, paths) are not allowed")
    match = _SCP_LIKE.match(url)
    if match and "://" not in url:
        if not config.git_allow_ssh:
            raise RefusedTarget(
                f"refused git URL {redact_url(url)!r}: ssh is not enabled; use the https:// URL"
            )
        return f"ssh://{match['user']}@{match['host']}/{match['path']}"
    return url


class Git:
    """Hardened git subprocess wrapper (ls-remote, exact-commit checkout)."""

    def __init__(self, config: NetConfig | None = None) -> None:
        self.config = config if config is not None else NetConfig()

    def ls_remote(self, url: str) -> RemoteRefs:
        """List refs and HEAD of ``url`` (NotFound if it is no repository)."""
        dest = self._plan(url)
        out = self._run(["ls-remote", "--symref", "--", dest.url], dest=dest, cwd=None)
        return parse_ls_remote(out)

    def clone_at(self, url: str, commit: str, dest: Path) -> None:
        """Materialise exactly ``commit`` of ``url`` in ``dest`` (an empty or new dir)."""
        if not HEX_SHA.match(commit):
            raise RefusedTarget(f"refused commit {commit[:80]!r}: need a full 40/64-hex commit SHA")
        planned = self._plan(url)
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise FetchError(f"target directory {dest} is not empty")
        self._run(["init", "-q", "--", str(dest)], dest=None, cwd=None)
        try:
            self._run(["fetch", "-q", "--depth", "1", "--no-tags", "--", planned.url, commit],
                      dest=planned, cwd=dest)
        except (NotFound, UpstreamError):
            # servers that refuse fetching by SHA: fetch all branches and tags instead
            self._run(["fetch", "-q", "--no-tags", "--", planned.url,
                       "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                      dest=planned, cwd=dest)
        try:
            self._run(["checkout", "-q", "--detach", commit, "--"], dest=None, cwd=dest)
        except (NotFound, UpstreamError):
            raise NotFound(f"commit {commit} not found in {redact_url(url)}") from None
        head = self._run(["rev-parse", "HEAD"], dest=None, cwd=dest).strip()
        if head != commit:
            raise FetchError(f"checked out {head}, expected {commit}")
        if self.config.git_allow_submodules:
            self._submodules(dest, planned)

    # -- machinery --------------------------------------------------------------------

    def _plan(self, url: str) -> Destination:
        if not isinstance(url, str) or not url:
            raise RefusedTarget("refused git URL: empty")
        norm = normalise_git_url(url, self.config)
        # every answer is checked; for http(s) git is then pinned to these addresses
        # (http.curloptResolve), ssh resolves again itself (documented limitation)
        return plan(norm, self.config, schemes=allowed_schemes(self.config, git=True))

    def _submodules(self, repo: Path, parent: Destination) -> None:
        """Each submodule URL passes the policy; git is handed the checked URL."""
        if not (repo / ".gitmodules").is_file():
            return
        listing = self._run(["config", "-f", ".gitmodules", "--get-regexp",
                             r"^submodule\..*\.(url|path)$"], dest=None, cwd=repo, ok_codes=(0, 1))
        subs: dict[str, dict[str, str]] = {}
        for line in listing.splitlines():
            key, _, value = line.partition(" ")
            name, _, attr = key[len("submodule."):].rpartition(".")
            subs.setdefault(name, {})[attr] = value.strip()
        for name, info in subs.items():
            url, path = info.get("url", ""), info.get("path", "")
            if url.startswith(("./", "../")):
                url = urljoin(parent.logical.rstrip("/") + "/", url)
            sub = self._plan(url)
            rel = PurePosixPath(path)
            if not path or path.startswith("-") or rel.is_absolute() or ".." in rel.parts:
                raise RefusedTarget(f"refused submodule {name[:60]!r}: unsafe path {path[:60]!r}")
            self._run(["config", f"submodule.{name}.url", sub.url], dest=None, cwd=repo)
            self._run(["submodule", "update", "--init", "--depth", "1", "--", path],
                      dest=sub, cwd=repo)

    def _base_args(self, dest: Destination | None) -> list[str]:
        args = [
            _GIT_BIN,
            "-c", "protocol.allow=never",
            "-c", "protocol.https.allow=always",
            "-c", "protocol.file.allow=never",
            "-c", "protocol.ext.allow=never",
            "-c", "core.hooksPath=/dev/null",
            "-c", "core.askPass=",
            "-c", "credential.helper=",
            "-c", "http.followRedirects=false",
            "-c", "core.fsmonitor=false",
            "-c", "submodule.recurse=false",
            "-c", "advice.detachedHead=false",
            "-c", "init.defaultBranch=main",
        ]
        if self.config.ca_bundle:
            args += ["-c", f"http.sslCAInfo={self.config.ca_bundle}"]
        if dest is not None and dest.scheme == "http" and (dest.trusted or self.config.allow_http):
            args += ["-c", "protocol.http.allow=always"]
        if dest is not None and dest.scheme == "ssh" and self.config.git_allow_ssh:
            args += ["-c", "protocol.ssh.allow=always"]
        if dest is not None and dest.addresses and dest.scheme in ("http", "https"):
            for address in dest.addresses:
                shown = f"[{address}]" if ":" in address else address
                args += ["-c", f"http.curloptResolve={dest.host}:{dest.port}:{shown}"]
        return args

    def _env(self, home: str, dest: Destination | None) -> dict[str, str]:
        protocols = ["https"]
        if dest is not None and dest.scheme in ("http", "ssh"):
            protocols.append(dest.scheme)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "LANG": "C",
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes",
            "GIT_ALLOW_PROTOCOL": ":".join(protocols),
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_LFS_SKIP_SMUDGE": "1",
        }

    def _run(
        self,
        args: Sequence[str],
        *,
        dest: Destination | None,
        cwd: Path | None,
        ok_codes: Sequence[int] = (0,),
    ) -> str:
        shown = redact_url(dest.logical) if dest is not None else "local repository"
        with tempfile.TemporaryDirectory(prefix="nfdi-git-home-") as home:
            try:
                proc = subprocess.run(  # noqa: S603 - argv list, no shell, user values after "--"
                    [*self._base_args(dest), *args],
                    cwd=cwd, env=self._env(home, dest), capture_output=True,
                    timeout=self.config.git_timeout, stdin=subprocess.DEVNULL, check=False,
                )
            except subprocess.TimeoutExpired:
                raise UpstreamError(
                    f"git {args[0]} of {shown} took longer than {self.config.git_timeout:.0f} s"
                ) from None
        if proc.returncode in ok_codes:
            return proc.stdout.decode("utf-8", errors="replace")
        message = _git_message(proc.stderr.decode("utf-8", errors="replace"))
        if any(s in message for s in ("not found", "does not appear to be a git repository",
                                      "Repository not found", "HTTP 404", "not our ref",
                                      "couldn't find remote ref", "reference is not a tree",
                                      "unable to read tree", "did not match any")):
            raise NotFound(f"git {args[0]} of {shown}: {message}")
        if "not allowed" in message or "strange" in message:
            raise RefusedTarget(f"refused git {args[0]} of {shown}: {message}")
        raise UpstreamError(f"git {args[0]} of {shown} failed: {message}")


def _git_message(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    useful = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines
    return redact_url(useful[-1][:300]) if useful else "no error message"


def parse_ls_remote(out: str) -> RemoteRefs:
    """Parse ``git ls-remote --symref`` output."""
    head_symref: str | None = None
    head_sha: str | None = None
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in out.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: ") and name == "HEAD":
            head_symref = left[5:].strip()
        elif name == "HEAD":
            head_sha = left.strip()
        elif name.endswith("^{}"):
            peeled[name[:-3]] = left.strip()
        elif name:
            refs[name] = left.strip()
    return RemoteRefs(head_symref, head_sha, refs, peeled)
