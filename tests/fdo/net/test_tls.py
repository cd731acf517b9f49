"""TLS through an address-pinned connection: SNI/Host are the name, verification stays on."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fdo.errors import UpstreamError
from fdo.net import HttpClient, NetConfig


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, list[str]]]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.headers['Host']} {self.path}")
            body = b'{"tls": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert, seen
    httpd.shutdown()
    httpd.server_close()


def test_https_is_verified_against_the_name(tls_server: tuple[int, Path, list[str]]) -> None:
    port, cert, seen = tls_server
    cfg = NetConfig(url_rewrites={"https://secure.example/": f"https://localhost:{port}/"},
                    ca_bundle=str(cert), retries=0)
    assert HttpClient(cfg).get_json("https://secure.example/x") == {"tls": True}
    assert seen[-1] == f"localhost:{port} /x"


def test_certificate_for_another_name_is_rejected(tls_server: tuple[int, Path, list[str]]) -> None:
    port, cert, _ = tls_server
    cfg = NetConfig(url_rewrites={"https://secure.example/": f"https://127.0.0.1:{port}/"},
                    ca_bundle=str(cert), retries=0)
    with pytest.raises(UpstreamError, match="TLS error"):
        HttpClient(cfg).get("https://secure.example/x")


def test_unknown_ca_is_rejected(tls_server: tuple[int, Path, list[str]]) -> None:
    port, _, _ = tls_server
    cfg = NetConfig(url_rewrites={"https://secure.example/": f"https://localhost:{port}/"}, retries=0)
    with pytest.raises(UpstreamError, match="TLS error"):
        HttpClient(cfg).get("https://secure.example/x")
