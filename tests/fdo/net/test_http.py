"""HttpClient against the loopback replay server (reached through trusted rewrites)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fdo.errors import FetchError, NotFound, RefusedTarget, UpstreamError
from fdo.net import HttpClient, HttpNotFound, HttpStatusError, NetConfig
from tests.fdo.conftest import replay_client
from tests.harness.replay import RecordedRequest, ReplayServer

Z = "https://zenodo.org/api/records"


client = replay_client


def test_logical_urls_headers_and_round_trips(replay: ReplayServer) -> None:
    replay.add(f"{Z}/10", body={"id": 10}, headers={"X-Thing": "a"})
    http = client(replay)
    resp = http.get(f"{Z}/10", headers={"Accept": "application/json"})
    assert resp.url == resp.final_url == f"{Z}/10"
    assert resp.status == 200
    assert resp.json() == {"id": 10}
    assert resp.headers["x-thing"] == "a"
    req = replay.requests[-1]
    assert req.headers["Host"] == f"127.0.0.1:{replay.port}"
    assert req.headers["User-Agent"].startswith("nfdi-launcher/")
    assert http.round_trips == 1


def test_ttl_cache_answers_without_a_round_trip(replay: ReplayServer) -> None:
    replay.add(f"{Z}/11", body={"id": 11})
    http = client(replay)
    assert http.get_json(f"{Z}/11") == http.get_json(f"{Z}/11") == {"id": 11}
    assert http.round_trips == 1
    assert len(replay.requests) == 1
    http.get_json(f"{Z}/11", cache=False)
    assert http.round_trips == 2


def test_etag_revalidation_reuses_body_on_304(replay: ReplayServer) -> None:
    def handler(req: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if req.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"', "Content-Type": "application/json"}, b'{"v": 1}'

    replay.add(f"{Z}/12", handler=handler)
    http = client(replay, cache_ttl=0.0)
    assert http.get_json(f"{Z}/12") == {"v": 1}
    assert http.get_json(f"{Z}/12") == {"v": 1}
    assert [r.headers.get("If-None-Match") for r in replay.requests] == [None, '"v1"']


def test_cache_is_bounded(replay: ReplayServer) -> None:
    http = client(replay, cache_max_entries=2)
    for i in range(5):
        replay.add(f"{Z}/2{i}", body={"i": i})
        http.get(f"{Z}/2{i}")
    assert len(http.cache) == 2


def test_retries_5xx_and_429_honouring_retry_after(replay: ReplayServer) -> None:
    answers = [(503, {}, b"busy"), (429, {"Retry-After": "7"}, b"slow down"), (200, {}, b"ok")]
    replay.add(f"{Z}/30", handler=lambda req: answers.pop(0))
    http = client(replay, retry_backoff=0.01, retry_max_delay=5.0)
    waits: list[float] = []
    http.sleep = waits.append
    assert http.get(f"{Z}/30").body == b"ok"
    assert waits == [0.01, 5.0]  # backoff, then Retry-After bounded by retry_max_delay
    assert http.round_trips == 3


def test_gives_up_after_retries(replay: ReplayServer) -> None:
    replay.add(f"{Z}/31", status=502, body="bad gateway")
    http = client(replay, retries=2)
    with pytest.raises(HttpStatusError, match="HTTP 502") as err:
        http.get(f"{Z}/31")
    assert err.value.response.body == b"bad gateway"
    assert http.round_trips == 3


def test_not_found_carries_the_response_unless_ok(replay: ReplayServer) -> None:
    replay.add("https://hdl.handle.net/api/handles/1/none", status=404, body={"responseCode": 100})
    http = client(replay)
    with pytest.raises(HttpNotFound) as err:
        http.get("https://hdl.handle.net/api/handles/1/none")
    assert isinstance(err.value, NotFound)
    assert err.value.response.json() == {"responseCode": 100}
    resp = http.get("https://hdl.handle.net/api/handles/1/none", ok_statuses=(200, 404))
    assert resp.status == 404
    with pytest.raises(HttpNotFound):  # a cached 404 is still an error for other callers
        http.get("https://hdl.handle.net/api/handles/1/none")


def test_redirects_are_followed_inside_rewrites(replay: ReplayServer) -> None:
    replay.add("https://doi.org/10.5281/zenodo.13", status=302,
               headers={"Location": "https://zenodo.org/api/records/13"})
    replay.add(f"{Z}/13", body={"id": 13})
    http = client(replay)
    resp = http.get("https://doi.org/10.5281/zenodo.13")
    assert resp.final_url == f"{Z}/13"
    assert resp.json() == {"id": 13}
    not_followed = http.get("https://doi.org/10.5281/zenodo.13", follow_redirects=False,
                            ok_statuses=(302,))
    assert not_followed.headers["Location"] == "https://zenodo.org/api/records/13"


def test_relative_redirect_on_a_rewritten_host(replay: ReplayServer) -> None:
    replay.add(f"{Z}/14", status=301, headers={"Location": f"{replay.url}/zenodo.org/api/records/15"})
    replay.add(f"{Z}/15", status=302, headers={"Location": "/zenodo.org/api/records/16"})
    replay.add(f"{Z}/16", body={"id": 16})
    resp = client(replay).get(f"{Z}/14")
    assert resp.final_url == f"{Z}/16"
    assert resp.json() == {"id": 16}


def test_authorization_is_not_forwarded_to_another_host(replay: ReplayServer) -> None:
    replay.add("https://api.github.com/x", status=302, headers={"Location": "https://gitlab.com/y"})
    replay.add("https://gitlab.com/y", body="y")
    client(replay).get("https://api.github.com/x", headers={"Authorization": "token SECRET"})
    first, second = replay.requests
    assert first.headers.get("Authorization") == "token SECRET"
    assert "Authorization" not in second.headers


def test_body_limit(replay: ReplayServer) -> None:
    replay.add(f"{Z}/40", body=b"x" * 5000)
    with pytest.raises(UpstreamError, match="larger than the limit of 1000 bytes"):
        client(replay).get(f"{Z}/40", max_bytes=1000)
    assert client(replay, max_response_bytes=6000).get(f"{Z}/40").body == b"x" * 5000


def test_post_json(replay: ReplayServer) -> None:
    replay.add("https://archive.softwareheritage.org/api/1/vault/flat/x/", method="POST",
               handler=lambda req: (200, {"Content-Type": "application/json"}, req.body))
    resp = client(replay).post_json("https://archive.softwareheritage.org/api/1/vault/flat/x/", {"a": 1})
    assert resp.json() == {"a": 1}
    assert replay.requests[-1].method == "POST"


def test_json_decode_error_is_upstream_error(replay: ReplayServer) -> None:
    replay.add(f"{Z}/41", body="<html>")
    with pytest.raises(UpstreamError, match="did not answer with JSON"):
        client(replay).get_json(f"{Z}/41")


@pytest.mark.parametrize("algo", ["md5", "sha256"])
def test_download_verifies_checksum(replay: ReplayServer, tmp_path: Path, algo: str) -> None:
    data = b"payload" * 1000
    replay.add("https://zenodo.org/files/a.bin", body=data)
    digest = hashlib.new(algo, data).hexdigest()
    out = tmp_path / "a.bin"
    size = client(replay).download("https://zenodo.org/files/a.bin", out, checksum=f"{algo}:{digest}")
    assert size == len(data)
    assert out.read_bytes() == data
    bad = tmp_path / "b.bin"
    with pytest.raises(FetchError, match="checksum mismatch"):
        client(replay).download("https://zenodo.org/files/a.bin", bad, checksum=f"{algo}:{'0' * len(digest)}")
    assert not bad.exists()


def test_download_size_limit_removes_partial_file(replay: ReplayServer, tmp_path: Path) -> None:
    replay.add("https://zenodo.org/files/big", body=b"y" * 10_000)
    out = tmp_path / "big"
    with pytest.raises(FetchError, match="larger than the limit"):
        client(replay).download("https://zenodo.org/files/big", out, max_bytes=100)
    assert not out.exists()


def test_connection_refused_is_upstream_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = NetConfig(url_rewrites={"https://dead.example/": f"http://127.0.0.1:{port}/"},
                    retries=1, retry_backoff=0.0)
    with pytest.raises(UpstreamError, match="did not answer"):
        HttpClient(cfg).get("https://dead.example/x")


def test_env_rewrites_are_used(rewrites_env: dict[str, str]) -> None:
    data = HttpClient().get_json("https://api.figshare.com/v2/articles/9782777/versions")
    assert isinstance(data, list)
    assert json.dumps(data)


def test_unrewritten_loopback_is_refused_before_connecting() -> None:
    with pytest.raises(RefusedTarget, match="loopback"):
        HttpClient(NetConfig(allow_http=True)).get("http://127.0.0.1:1/")


def test_slow_drip_body_is_cut_off() -> None:
    """A server that sends one byte at a time (each read is quick, so the per-read timeout
    never fires) is cut off by ``max_transfer_seconds``: the client hangs up long before
    the body is complete. Only behaviour is asserted (error, early hang-up), no wall-clock
    bound, so a busy machine cannot make it fail."""
    import socket
    import threading
    import time

    total = 2000  # at 1 byte / 20 ms the full body would take 40 s
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(60)
    seen: dict[str, int | bool] = {"sent": 0, "hung_up": False}

    def drip() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
            for _ in range(total):
                try:
                    conn.sendall(b"x")
                except OSError:
                    seen["hung_up"] = True
                    return
                seen["sent"] = int(seen["sent"]) + 1
                time.sleep(0.02)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    port = srv.getsockname()[1]
    cfg = NetConfig(url_rewrites={"https://slow.example/": f"http://127.0.0.1:{port}/"},
                    retries=0, timeout=30.0, max_transfer_seconds=1.0)
    try:
        with pytest.raises(UpstreamError, match="took longer than 1 s to transfer"):
            HttpClient(cfg).get("https://slow.example/x")
        thread.join(timeout=60)
        assert seen["hung_up"], "the client should have closed the connection mid-body"
        assert int(seen["sent"]) < total
    finally:
        srv.close()


def test_gzip_is_decoded_and_limited_after_decoding(replay: ReplayServer) -> None:
    import gzip

    replay.add(f"{Z}/50", body=gzip.compress(b'{"z": 1}'), headers={"Content-Encoding": "gzip"})
    replay.add(f"{Z}/51", body=gzip.compress(b"\0" * 5_000_000), headers={"Content-Encoding": "gzip"})
    http = client(replay)
    assert http.get_json(f"{Z}/50") == {"z": 1}
    with pytest.raises(UpstreamError, match="larger than the limit of 1000000 bytes"):
        http.get(f"{Z}/51", max_bytes=1_000_000)


def test_retry_after_as_http_date(replay: ReplayServer) -> None:
    answers = [(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b""), (200, {}, b"ok")]
    replay.add(f"{Z}/32", handler=lambda req: answers.pop(0))
    http = client(replay, retry_backoff=0.25)
    waits: list[float] = []
    http.sleep = waits.append
    assert http.get(f"{Z}/32").body == b"ok"
    assert waits == [0.25]  # a date in the past: plain backoff
    http.close()


def test_peek_reads_only_a_prefix_and_never_follows_redirects(replay: ReplayServer) -> None:
    """``peek`` asks "is it ready?" (HydroShare bags) without downloading a large answer."""
    replay.add(f"{Z}/60", body=b"z" * 300_000, headers={"Content-Type": "application/zip"})
    replay.add(f"{Z}/61", status=302, headers={"Location": f"{Z}/60"})
    http = client(replay)
    big = http.peek(f"{Z}/60", max_bytes=1000)
    assert big.status == 200
    assert big.body == b"z" * 1000
    assert big.headers["Content-Type"] == "application/zip"
    moved = http.peek(f"{Z}/61")
    assert moved.status == 302
    assert moved.headers["Location"] == f"{Z}/60"
    assert [r.path for r in replay.requests] == ["/zenodo.org/api/records/60", "/zenodo.org/api/records/61"]
    assert http.get(f"{Z}/60", max_bytes=400_000).body == b"z" * 300_000  # the pool still works
