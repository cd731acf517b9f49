"""Limits of both services as a client meets them: bodies one byte over each limit, slow
headers and slow bodies dropped after the timeout, no Host header echoed into links."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from tests.outpost.outpost_proc import OutpostProc
from tests.security.conftest import LauncherProc, raw_request

TIMEOUTS = ["c.LauncherConfig.header_timeout = 1.0", "c.LauncherConfig.body_timeout = 1.0"]


@pytest.fixture(scope="module")
def strict(launcher_factory: Callable[..., LauncherProc]) -> LauncherProc:
    return launcher_factory(*TIMEOUTS, "c.LauncherConfig.max_body_size = 2000", "c.Admission.rate_limit = 0")


@pytest.fixture(scope="module")
def strict_outpost(tmp_path_factory: pytest.TempPathFactory) -> OutpostProc:
    from tests.outpost.outpost_proc import make_outpost

    proc = make_outpost(tmp_path_factory.mktemp("outpost"), extra_config="\n".join([
        "c.OutpostServer.header_timeout = 1.0", "c.OutpostServer.body_timeout = 1.0",
        "c.OutpostServer.max_body_size = 3000", ""]))
    yield proc
    proc.cleanup()


def padded(size: int) -> bytes:
    """A JSON object of exactly *size* bytes."""
    base = b'{"id": "", "x": ""}'
    return b'{"id": "", "x": "' + b"a" * (size - len(base)) + b'"}'


def post(port: int, path: str, body: bytes, auth: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{auth}\r\n"
    return raw_request(port, head.encode() + body)


def test_launcher_body_at_the_limit_is_read_one_byte_more_is_413(strict: LauncherProc) -> None:
    path = urlsplit(strict.url).path + "api/v1/builds"
    at_limit = post(strict.port, path, padded(2000))
    assert not at_limit.startswith(b"HTTP/1.1 413"), at_limit[:80]
    assert b"missing" in at_limit  # the handler read it: the id is empty
    over = post(strict.port, path, padded(2001))
    assert over.startswith(b"HTTP/1.1 413"), over[:80]
    assert b"limited to 2000 bytes" in over


def test_outpost_body_at_the_limit_is_read_one_byte_more_is_413(strict_outpost: OutpostProc) -> None:
    import base64

    auth = "Authorization: Basic " + base64.b64encode(
        f"hub-a:{strict_outpost.credentials['hub-a']}".encode()).decode() + "\r\n"
    at_limit = post(strict_outpost.port, "/services", padded(3000), auth)
    assert at_limit.startswith(b"HTTP/1.1 422"), at_limit[:80]  # read, and found wanting
    over = post(strict_outpost.port, "/services", padded(3001), auth)
    assert over.startswith(b"HTTP/1.1 413"), over[:80]
    unauthenticated = post(strict_outpost.port, "/services", padded(3001))
    assert unauthenticated.startswith(b"HTTP/1.1 413")  # refused before the password is asked


def test_a_chunked_body_over_the_limit_is_cut_off(strict: LauncherProc) -> None:
    path = urlsplit(strict.url).path + "api/v1/builds"
    chunk = b"a" * 1000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    answer = raw_request(strict.port, head + body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]


def slow_client(port: int, data: bytes) -> float:
    """Send *data* and nothing more; seconds until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        started = time.monotonic()
        while s.recv(4096):
            pass
        return time.monotonic() - started


@pytest.mark.parametrize("data", [
    b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
    b"",  # connected, nothing sent
    b"POST /services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",  # slow body
])
def test_slow_connections_are_dropped_by_both_services(strict: LauncherProc, strict_outpost: OutpostProc,
                                                       data: bytes) -> None:
    for port in (strict.port, strict_outpost.port):
        took = slow_client(port, data.replace(b"/ping", b"/").replace(b"/services", b"/x"))
        assert took < 5, f"port {port} held a slow connection {took:.1f} s"


def test_slow_headers_do_not_block_other_clients(strict: LauncherProc) -> None:
    held = [socket.create_connection(("127.0.0.1", strict.port)) for _ in range(50)]
    try:
        for s in held:
            s.sendall(b"GET / HTTP/1.1\r\n")
        assert strict.get("versions").status_code == 200
    finally:
        for s in held:
            s.close()


def test_the_host_header_never_reaches_links(launcher_factory: Callable[..., LauncherProc]) -> None:
    plain = launcher_factory(base_url="/")  # standalone, badge_base_url unset
    evil = {"Host": "evil.example"}
    for path in ("api/v1/openapi.json", "api/v1/snippets?path=v2/gh/o/r/HEAD"):
        r = plain.get(path, headers=evil)
        assert "evil.example" not in r.text, path
    assert plain.get("api/v1/openapi.json", headers=evil).status_code == 400
    served = plain.get("api/v1/openapi.json").json()["servers"][0]["url"]
    assert served == plain.url.rstrip("/")  # 127.0.0.1 is an allowed host
    fixed = launcher_factory("c.LauncherConfig.badge_base_url = 'https://launch.example.org/'",
                             "c.LauncherConfig.trust_xheaders = True", base_url="/")
    doc = fixed.get("api/v1/openapi.json", headers={**evil, "X-Forwarded-Host": "evil.example"}).json()
    assert doc["servers"] == [{"url": "https://launch.example.org"}]


def test_trusting_proxy_headers_needs_a_public_url(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.security.conftest import start_launcher

    with pytest.raises(RuntimeError) as err:
        start_launcher(tmp_path_factory.mktemp("x"), ["c.LauncherConfig.trust_xheaders = True"], base_url="/")
    assert "badge_base_url is required with trust_xheaders" in str(err.value)


def test_outpost_answers_json_errors_for_refused_bodies(strict_outpost: OutpostProc) -> None:
    r = requests.post(strict_outpost.url + "/services", data=b"x" * 5000, timeout=30)
    assert r.status_code == 413
    assert "limited to 3000 bytes" in json.loads(r.text)["message"]
