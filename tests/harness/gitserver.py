"""Local Git smart-HTTP server (``git http-backend`` behind a tiny CGI bridge) on loopback.

Repositories are built from scenario folders ``tests/scenarios/<name>/scenario.yaml``::

    head: main                       # default branch (HEAD symref)
    commits:                         # applied in order; each commit sees earlier files
      - message: first
        files: {README.md: "hello\\n", binder/Dockerfile: "FROM ...\\n"}
        delete: [old.txt]            # optional
    branches: {main: 2, dev: 3}      # branch -> commit number (1-based)
    tags:
      v1.0: {commit: 1, annotated: true, message: "release 1.0"}
      v1.1: {commit: 2}              # lightweight

A commit may add submodule gitlinks (the ``.gitmodules`` text is an ordinary file, so it
can name any URL, also hostile ones)::

        gitlinks: {lib: {scenario: other-scenario, rev: refs/heads/main}}

Author/committer dates are fixed, so commit SHAs are the same in every run. Fixture
``git_server`` (session): ``git_server.url_for(name)`` -> ``http://127.0.0.1:<port>/<name>.git``,
``git_server.sha(name, "refs/tags/v1.0^{}")`` -> commit SHA, ``git_server.rewrite(original, name)``
-> a ``NFDI_LAUNCHER_URL_REWRITES`` entry mapping a public repository URL to the scenario.

Fixtures ``extra_rewrites(mapping)`` (operator rewrites on top of the replay server's,
set in the environment) and ``git_rewrites({"https://github.com/o/r": "rees-dockerfile"})``
(public repository URL -> scenario) make resolvers reach these repositories under their
public names, the way an air-gapped site maps a mirror.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

Rewriter = Callable[[dict[str, str]], dict[str, str]]
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
GIT = shutil.which("git") or "/usr/bin/git"
_FIXED_DATE = 1_700_000_000  # 2023-11-14T22:13:20Z; one second later per commit


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Scenario Author",
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_COMMITTER_NAME": "Scenario Author",
        "GIT_COMMITTER_EMAIL": "author@example.org",
        **(env or {}),
    }
    proc = subprocess.run([GIT, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def build_repo(scenario: Path, bare_dest: Path) -> None:
    """Build the bare repository ``bare_dest`` from ``scenario/scenario.yaml``."""
    spec: dict[str, Any] = yaml.safe_load((scenario / "scenario.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="gitscenario-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        head = spec.get("head", "main")
        _git(["init", "-q", "-b", head, "."], work)
        shas: list[str] = []
        for number, commit in enumerate(spec["commits"], start=1):
            for rel, content in (commit.get("files") or {}).items():
                path = work / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
                if commit.get("executable") and rel in commit["executable"]:
                    path.chmod(0o755)
            for rel in commit.get("delete") or []:
                (work / rel).unlink()
            _git(["add", "-A"], work)
            for rel, link in (commit.get("gitlinks") or {}).items():
                (work / rel).mkdir(parents=True, exist_ok=True)  # an unpopulated submodule
                sha = _scenario_rev(scenario.parent, bare_dest.parent, link["scenario"],
                                    link.get("rev", "HEAD"))
                _git(["update-index", "--add", "--cacheinfo", f"160000,{sha},{rel}"], work)
            date = f"@{_FIXED_DATE + number} +0000"
            _git(["commit", "-q", "--allow-empty", "-m", commit["message"]], work,
                 {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
            shas.append(_git(["rev-parse", "HEAD"], work).strip())
        for branch, number in (spec.get("branches") or {head: len(shas)}).items():
            _git(["update-ref", f"refs/heads/{branch}", shas[int(number) - 1]], work)
        for tag, info in (spec.get("tags") or {}).items():
            target = shas[int(info["commit"]) - 1]
            if info.get("annotated"):
                date = f"@{_FIXED_DATE + 1000} +0000"
                _git(["tag", "-a", "-m", info.get("message", tag), tag, target], work,
                     {"GIT_COMMITTER_DATE": date})
            else:
                _git(["tag", tag, target], work)
        _git(["symbolic-ref", "HEAD", f"refs/heads/{head}"], work)
        _git(["clone", "-q", "--bare", "--", str(work), str(bare_dest)], Path(tmp))
        # a bare clone keeps only branches copied as-is; make refs exactly the scenario's
        _git(["symbolic-ref", "HEAD", f"refs/heads/{head}"], bare_dest)


def _scenario_rev(scenarios: Path, root: Path, name: str, rev: str) -> str:
    """Commit ``rev`` of scenario ``name``, built into ``root`` first if needed."""
    bare = root / f"{name}.git"
    if not bare.is_dir():
        build_repo(scenarios / name, bare)
    return _git(["rev-parse", rev], bare).strip()


class GitServer:
    """``git http-backend`` on 127.0.0.1:<free port> serving every scenario."""

    def __init__(self, root: Path, scenarios: Path = SCENARIOS) -> None:
        self.root = root
        #: "<METHOD> <path>" of every request, to assert that refused URLs got none
        self.requests: list[str] = []
        for scenario in sorted(p for p in scenarios.iterdir() if (p / "scenario.yaml").is_file()):
            if not (root / f"{scenario.name}.git").is_dir():  # may exist as a gitlink target
                build_repo(scenario, root / f"{scenario.name}.git")
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(root, self.requests))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="git-server")
        self._thread.start()

    def url_for(self, name: str) -> str:
        if not (self.root / f"{name}.git").is_dir():
            raise KeyError(f"no git scenario named {name!r} in {SCENARIOS}")
        return f"{self.url}/{name}.git"

    def sha(self, name: str, rev: str) -> str:
        """Commit (or object) id of ``rev`` in scenario ``name``."""
        return _git(["rev-parse", rev], self.root / f"{name}.git").strip()

    def rewrite(self, original: str, name: str) -> dict[str, str]:
        return {original: self.url_for(name)}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(root: Path, log: list[str]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        # like real servers: no Nagle delay (40 ms stalls with the client's delayed ACK)
        disable_nagle_algorithm = True

        def _cgi(self) -> None:
            log.append(f"{self.command} {self.path}")
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": str(root),
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            proc = subprocess.run([GIT, "http-backend"], input=body, env=env,
                                  capture_output=True, timeout=60, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = proc.stdout.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _cgi

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _Handler


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(tmp_path_factory.mktemp("git-scenarios"))
    yield server
    server.close()


@pytest.fixture
def extra_rewrites(rewrites_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Rewriter:
    """Add operator rewrites (original prefix -> loopback URL) on top of the replay ones."""
    current = dict(rewrites_env)

    def add(mapping: dict[str, str]) -> dict[str, str]:
        current.update(mapping)
        monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(current))
        return dict(current)

    return add


@pytest.fixture
def git_rewrites(extra_rewrites: Rewriter, git_server: GitServer) -> Rewriter:
    """``git_rewrites({"https://github.com/o/r": "rees-dockerfile"})``: public URL -> scenario."""

    def add(mapping: dict[str, str]) -> dict[str, str]:
        return extra_rewrites({orig: git_server.url_for(name) for orig, name in mapping.items()})

    return add
