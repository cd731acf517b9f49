"""Canary: a loopback HTTP server that must never be contacted.

Bad-input tests point hostile URLs (redirect targets, record locations) at it and then
assert ``canary.requests == []``: any request it records means the code under test
contacted a destination the policy should have refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Canary:
    """``url`` = ``http://127.0.0.1:<port>``; ``requests`` = ``[(method, path), ...]``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        canary = self

        class _Handler(BaseHTTPRequestHandler):
            def _hit(self) -> None:
                canary.requests.append((self.command, self.path))
                self.send_response(200)
                self.send_header("Content-Length", "6")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"canary")

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _hit

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
                                        name="canary")  # short poll: close() waits for it
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def canary() -> Iterator[Canary]:
    """A fresh canary per test."""
    server = Canary()
    yield server
    server.close()
