"""A tiny git smart-HTTP server (``git http-backend`` as CGI) for the net/fetch tests.

Serves bare repositories below ``root`` at ``http://127.0.0.1:<port>/<name>.git``; tests
reach it through a trusted rewrite such as ``https://git.example.org/`` -> its URL.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

GIT = "/usr/bin/git"


class GitHttpServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _cgi(self) -> None:
                parts = urlsplit(self.path)
                server.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
                    "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(server.root),
                }
                proc = subprocess.run([GIT, "http-backend"], input=body, env=env,
                                      capture_output=True, timeout=60, check=False)
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
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

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run([GIT, *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(root: Path, name: str = "demo") -> dict[str, str]:
    """A bare repo ``<root>/<name>.git`` with main (2 commits), branch dev, tags v1 (annotated)
    and light; returns the shas."""
    work = root / f"{name}-work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "README.md").write_text("first\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work)
    git("tag", "-a", "v1", "-m", "release 1", cwd=work)
    git("tag", "light", cwd=work)
    (work / "Dockerfile").write_text("FROM local/jupyter-base:6.1.1\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "second", cwd=work)
    second = git("rev-parse", "HEAD", cwd=work)
    git("branch", "dev", first, cwd=work)
    bare = root / f"{name}.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return {"first": first, "second": second, "v1_tag": git("rev-parse", "v1", cwd=work)}


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitHttpServer, dict[str, str]]]:
    root = tmp_path_factory.mktemp("gitsrv")
    shas = make_repo(root)
    server = GitHttpServer(root)
    yield server, shas
    server.close()


def make_super(root: Path, sub_url: str, name: str = "super") -> str:
    """Bare repo ``<name>.git`` whose submodule ``lib`` points at ``sub_url``; returns HEAD."""
    work = root / f"{name}-work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "main.py").write_text("import lib\n")
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(root / "demo.git"),
        "lib", cwd=work)
    git("config", "-f", ".gitmodules", "submodule.lib.url", sub_url, cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "with submodule", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)
    git("clone", "-q", "--bare", str(work), str(root / f"{name}.git"))
    return head
