"""Test helpers: serve a launcher app in-process on a free loopback port; read event streams."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from launcher import events
from launcher.app import make_server


@asynccontextmanager
async def serving(app: tornado.web.Application) -> AsyncIterator[str]:
    """Listen on 127.0.0.1:<free port>; yield the base URL (with the app's base_url)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = make_server(app)  # as `nfdi-launcher serve` serves it
    server.add_sockets([sock])
    port = sock.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}{app.settings['base_url']}"
    finally:
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), 10)


async def read_stream(url: str, timeout: float = 300, headers: dict[str, str] | None = None,
                      ) -> tuple[int, dict[str, str], list[dict[str, Any]], int]:
    """GET an event stream until the server closes it (right after ready or failed).

    Returns (status, headers, events, number of keepalive comments).
    """
    buf = bytearray()
    got: list[dict[str, Any]] = []
    comments = 0

    def on_chunk(chunk: bytes) -> None:
        nonlocal comments
        buf.extend(chunk)
        while b"\n\n" in buf:
            block, _, rest = bytes(buf).partition(b"\n\n")
            buf[:] = rest
            parsed, n = events.parse_stream(block.decode() + "\n\n")
            comments += n
            got.extend(parsed)

    client = AsyncHTTPClient(force_instance=True)
    req = HTTPRequest(url, headers={"Accept": "text/event-stream", **(headers or {})},
                      streaming_callback=on_chunk, request_timeout=timeout)
    try:
        resp = await asyncio.wait_for(client.fetch(req, raise_error=False), timeout + 5)
    except TimeoutError:
        raise TimeoutError(f"stream {url} not finished within {timeout} s; last events {got[-3:]}") from None
    finally:
        client.close()
    if resp.code == 599:
        raise AssertionError(f"stream {url} failed: {resp.error}; events {got[-3:]}")
    return resp.code, dict(resp.headers), got, comments


async def get(url: str, **kwargs: Any) -> Any:
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(url, raise_error=False, follow_redirects=False, **kwargs)
    finally:
        client.close()


def body_json(resp: Any) -> Any:
    return json.loads(resp.body)
