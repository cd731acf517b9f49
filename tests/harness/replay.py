"""Replay server: recorded upstream API payloads under their original URL paths, on loopback.

``https://zenodo.org/api/records/7834392`` is served as
``http://127.0.0.1:<port>/zenodo.org/api/records/7834392`` (the host is the first path
segment). Point the code under test at it with ``NFDI_LAUNCHER_URL_REWRITES``::

    {"https://zenodo.org/": "http://127.0.0.1:<port>/zenodo.org/", ...}

(fixture ``rewrites_env`` sets exactly that for :data:`REWRITTEN_HOSTS`; the rewritten
destination is operator-trusted, redirect targets it answers with are NOT).

Routes come from ``tests/fixtures/api/<name>`` : the URL on the ``Answers:`` line of
``<name>.source.txt`` when it names a concrete URL, plus :data:`EXPLICIT` for fixtures whose
URL has placeholders or that need a status/header (404, 422, the doi.org 302).

Matching (documented for test authors):

- the path is compared URL-decoded (``gitlab-org%2Fgitlab-foss`` == ``gitlab-org/gitlab-foss``);
- a route registered WITH a query string matches only requests carrying exactly those
  parameters (order-insensitive) — used where the fixture answers one specific query
  (Dataverse ``persistentId``, CKAN ``activity_data_show?id=...&object_type=package``);
- a route registered WITHOUT a query matches the path with any query string
  (e.g. DataCite ``?include=media,client``);
- routes with ``casefold=True`` (DataCite, Crossref, doi.org) also match case-insensitively,
  as DOIs are case-insensitive;
- an exact (path + query) route wins over a path-only one; unknown URLs answer 404
  ``{"error": "no replay route"}``.

At runtime: ``replay.add("https://zenodo.org/api/records/1", body={...}, status=200,
headers={...})`` or ``handler=lambda req: (status, headers, body)``; ``replay.requests``
records every request (method, path, query, headers, body). The function fixture
``replay`` removes routes added by a test when it ends.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from tests import fixtures

FIXTURES = fixtures.API

#: hosts that ``rewrites_env`` sends to the replay server
REWRITTEN_HOSTS = (
    "doi.org", "dx.doi.org", "hdl.handle.net", "api.datacite.org", "api.crossref.org",
    "zenodo.org", "sandbox.zenodo.org", "rogue-scholar.org", "api.figshare.com",
    "figshare.com", "ndownloader.figshare.com", "dataverse.harvard.edu", "www.hydroshare.org",
    "data.depositar.io", "demo.ckan.org", "archive.softwareheritage.org", "api.github.com",
    "gist.github.com", "gitlab.com", "nfdi.software", "research-software-directory.org",
    "www.research-software.nl", "codeberg.org", "bitbucket.org", "osf.io", "api.osf.io",
)

#: fixture name -> (original URL, options) where the Answers: line has placeholders or
#: the fixture needs a status code or headers
EXPLICIT: dict[str, tuple[str, dict[str, Any]]] = {
    "ckan-demo-package_show-404.json": (
        "https://demo.ckan.org/api/3/action/package_show", {"status": 404}),
    "doi-conneg-crossref-302-10.1126-science.169.3946.635.html": (
        "https://doi.org/10.1126/science.169.3946.635",
        {"status": 302, "casefold": True, "headers": {
            "Content-Type": "text/html;charset=utf-8",
            "Location": "https://api.crossref.org/v1/works/10.1126%2Fscience.169.3946.635/transform",
            "Vary": "Origin, Accept"}}),
    "github-commit-nosuchref-422.json": (
        "https://api.github.com/repos/jupyterhub/zero-to-jupyterhub-k8s/commits/nosuchref",
        {"status": 422}),
    # B2HANDLE test fixtures carry the placeholder handle someprefix/somesuffix
    "handle-b2handle-handlerecord_for_reading.json": (
        "https://hdl.handle.net/api/handles/someprefix/somesuffix", {}),
    "handle-b2handle-handlerecord_with_10320LOC.json": (
        "https://hdl.handle.net/api/handles/someprefix/with-10320loc", {}),
}

_CASEFOLD_HOSTS = ("api.datacite.org", "api.crossref.org", "doi.org")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


Handler = Callable[[RecordedRequest], tuple[int, Mapping[str, str], bytes]]


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    handler: Handler | None = None
    casefold: bool = False


def _split(url: str) -> tuple[str, tuple[tuple[str, str], ...] | None]:
    """Original URL (or /host/path) -> (decoded replay path, sorted query or None)."""
    parts = urlsplit(url)
    path = f"/{parts.netloc}{parts.path}" if parts.scheme else parts.path
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))) if parts.query else None
    return unquote(path), query


def answers_url(source: str) -> str | None:
    """The concrete URL of an ``Answers:`` line, or None when it has placeholders."""
    for line in source.splitlines():
        if line.startswith("Answers:"):
            match = re.search(r"https://\S+", line)
            if not match:
                return None
            url = match.group(0).rstrip(").,;")
            return None if any(c in url for c in "<>…") else url
    return None


def fixture_routes() -> dict[str, tuple[str, dict[str, Any]]]:
    """fixture file name -> (URL, options) for every fixture with a known URL."""
    table: dict[str, tuple[str, dict[str, Any]]] = {}
    for src in sorted(FIXTURES.glob("*.source.txt")):
        name = src.name[: -len(".source.txt")]
        if name in EXPLICIT:
            table[name] = EXPLICIT[name]
            continue
        url = answers_url(src.read_text())
        if url:
            host = urlsplit(url).netloc
            table[name] = (url, {"casefold": host in _CASEFOLD_HOSTS})
    return table


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # clients that hang up early (size limits) are expected
        super().handle_error(request, client_address)


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1:<free port>; see the module docstring."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, tuple[tuple[str, str], ...] | None], Route] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="replay-server")
        for name, (url, opts) in fixture_routes().items():
            body = (FIXTURES / name).read_bytes()
            headers = dict(opts.get("headers", {}))
            headers.setdefault("Content-Type", "application/json" if name.endswith(".json")
                               else "text/html")
            self.add(url, body=body, status=opts.get("status", 200), headers=headers,
                     casefold=opts.get("casefold", False))
            if "swh-vault" in name:
                self.add(url, body=body, headers=headers, method="POST")
        self._thread.start()

    def add(self, url: str, *, body: bytes | str | Any = b"", status: int = 200,
            headers: Mapping[str, str] | None = None, handler: Handler | None = None,
            method: str = "GET", casefold: bool = False) -> str:
        """Serve ``url`` (original form or ``/host/path``); returns the replay URL."""
        hdrs = dict(headers or {})
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        path, query = _split(url)
        with self._lock:
            self.routes[(method.upper(), path, query)] = Route(status, hdrs, body, handler, casefold)
        return self.url_for(url)

    def url_for(self, url: str) -> str:
        parts = urlsplit(url)
        rest = f"/{parts.netloc}{parts.path}" if parts.scheme else parts.path
        return self.url + rest + (f"?{parts.query}" if parts.query else "")

    def rewrites(self, hosts: tuple[str, ...] = REWRITTEN_HOSTS) -> dict[str, str]:
        return {f"https://{h}/": f"{self.url}/{h}/" for h in hosts}

    def find(self, method: str, raw_path: str) -> Route | None:
        path, query = _split(raw_path)
        with self._lock:
            for key in ((method, path, query), (method, path, None)):
                if key in self.routes:
                    return self.routes[key]
            low = path.lower()
            for (m, p, q), route in self.routes.items():
                if route.casefold and m == method and p.lower() == low and q in (query, None):
                    return route
        return None

    def snapshot(self) -> dict[Any, Route]:
        with self._lock:
            return dict(self.routes)

    def restore(self, routes: dict[Any, Route]) -> None:
        with self._lock:
            self.routes = dict(routes)
            self.requests.clear()

    def record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # like real servers: no Nagle delay (40 ms stalls with the client's delayed ACK)
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 10_000_000)) if length else b""
            parts = urlsplit(self.path)
            req = RecordedRequest(self.command, parts.path, parts.query, dict(self.headers), body)
            server.record(req)
            method = "GET" if self.command == "HEAD" else self.command
            route = server.find(method, self.path)
            headers: Mapping[str, str]
            if route is None:
                status, headers, payload = 404, {"Content-Type": "application/json"}, \
                    b'{"error": "no replay route"}'
            elif route.handler is not None:
                status, headers, payload = route.handler(req)
            else:
                status, headers, payload = route.status, route.headers, route.body
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "content-length" not in {k.lower() for k in headers}:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _Handler


def url_rewrites(replay: ReplayServer, hosts: tuple[str, ...] = REWRITTEN_HOSTS) -> dict[str, str]:
    """``{"https://<host>/": "http://127.0.0.1:<port>/<host>/"}`` for each host."""
    return replay.rewrites(hosts)


@pytest.fixture(scope="session")
def replay_server() -> Iterator[ReplayServer]:
    server = ReplayServer()
    yield server
    server.close()


@pytest.fixture
def replay(replay_server: ReplayServer) -> Iterator[ReplayServer]:
    """The session replay server; routes a test adds are removed afterwards."""
    saved = replay_server.snapshot()
    replay_server.requests.clear()
    yield replay_server
    replay_server.restore(saved)


@pytest.fixture
def rewrites_env(replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Set NFDI_LAUNCHER_URL_REWRITES so that all known hosts go to the replay server."""
    rewrites = url_rewrites(replay)
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(rewrites))
    return rewrites
