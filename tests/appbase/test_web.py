"""The hardened HTTP server: body limits before buffering, header/body timeouts, bounded JSON."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import tornado.web

from appbase.web import BodyLimits, JSONTooDeep, hardened_server, json_depth, loads_bounded


class Echo(tornado.web.RequestHandler):
    seen: list[int] = []

    def get(self) -> None:
        self.write("ok")

    def post(self) -> None:
        Echo.seen.append(len(self.request.body))
        self.write({"length": len(self.request.body)})


@asynccontextmanager
async def serving() -> AsyncIterator[int]:
    Echo.seen.clear()
    app = tornado.web.Application([(r"/small", Echo), (r"/big", Echo), (r"/", Echo)])
    http = hardened_server(app, BodyLimits(100, (("/big", 1000),)), header_timeout=1.0, body_timeout=1.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    http.add_sockets([sock])
    yield sock.getsockname()[1]
    http.stop()
    await http.close_all_connections()


async def exchange(port: int, data: bytes, read_timeout: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), read_timeout)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def post(path: str, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n".encode() + body


@pytest.mark.parametrize("path, limit", [("/small", 100), ("/big", 1000)])
async def test_a_body_at_the_limit_passes_one_byte_more_is_413(path: str, limit: int) -> None:
    async with serving() as server:
        ok = await exchange(server, post(path, b"x" * limit))
        assert ok.startswith(b"HTTP/1.1 200"), ok[:80]
        refused = await exchange(server, post(path, b"x" * (limit + 1)))
        assert refused.startswith(b"HTTP/1.1 413"), refused[:80]
        assert f"limited to {limit} bytes".encode() in refused
        assert Echo.seen == [limit]  # the handler never saw the refused one


async def test_a_declared_huge_body_is_refused_before_it_is_sent() -> None:
    async with serving() as server:
        # only the headers go out: the answer comes without waiting for 90 MB
        started = time.monotonic()
        refused = await exchange(server, post("/small", b"", length=90_000_000))
        assert refused.startswith(b"HTTP/1.1 413")
        assert time.monotonic() - started < 2


async def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    async with serving() as server:
        chunk = b"x" * 60
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
        head = b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        answer = await exchange(server, head + chunks)
        assert not answer.startswith(b"HTTP/1.1 200")
        assert Echo.seen == []


async def test_a_get_with_a_body_is_refused() -> None:
    async with serving() as server:
        answer = await exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"takes no body" in answer


async def test_slow_headers_are_dropped_after_the_header_timeout() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # ... and never the blank line
        await writer.drain()
        started = time.monotonic()
        data = await asyncio.wait_for(reader.read(), 10)  # EOF when the server closes
        writer.close()
        assert data == b""
        assert 0.8 < time.monotonic() - started < 5


async def test_an_idle_keepalive_connection_is_closed() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        first = await reader.readuntil(b"ok")
        assert first.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        assert time.monotonic() - started < 5


async def test_a_slow_body_is_dropped_after_the_body_timeout() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server)
        writer.write(post("/small", b"x" * 10, length=50))  # 40 bytes never come
        await writer.drain()
        started = time.monotonic()
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert not data.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 5


def test_json_depth_skips_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": []}]}') == 4
    assert json_depth('"\\"[["') == 0


def test_deep_json_is_refused_before_parsing() -> None:
    deep = "[" * 5000 + "]" * 5000  # the 10 KB body of issue 10, finding 7
    with pytest.raises(JSONTooDeep):
        loads_bounded(deep, 32)
    assert loads_bounded(json.dumps({"a": [[1]]}), 32) == {"a": [[1]]}
