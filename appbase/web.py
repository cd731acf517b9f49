"""What every HTTP server of the project does before a handler sees a request.

Both services (the launcher and the Outpost) serve through :func:`hardened_server`:

- **Body limits before buffering.** Tornado reads a request body whole before the handler
  runs, up to ``max_body_size`` (100 MB by default). Here each request gets its own limit
  from its method and path (:class:`BodyLimits`) as soon as its headers are in: a declared
  ``Content-Length`` over the limit is answered ``413`` at once, nothing of the body read;
  a chunked body is cut off at the limit while it streams (tornado answers ``400`` and
  closes). Methods without a body (``GET``, ``HEAD``, ...) may send none.
- **Header and idle timeouts.** A connection must deliver a request's complete headers
  within ``header_timeout`` seconds of connecting (or of its previous request ending), and
  a body within ``body_timeout``; slow senders are dropped (no slowloris). Responses that
  stream for long (event streams) are not affected.
- **Bounded JSON.** :func:`loads_bounded` refuses bodies nested deeper than a limit before
  ``json.loads`` can recurse (a 10 KB body of 5000 ``[`` otherwise ends in RecursionError).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError

#: methods whose requests carry a body
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: after refusing a body: seconds to read and drop what the client still sends
LINGER_SECONDS = 2.0


class JSONTooDeep(ValueError):
    """The JSON text nests arrays/objects deeper than allowed."""


def json_depth(text: bytes | str) -> int:
    """Deepest nesting of ``[``/``{`` in *text*, strings skipped (linear, no recursion)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def loads_bounded(text: bytes | str, max_depth: int = 32) -> Any:
    """``json.loads`` for untrusted bodies: :class:`JSONTooDeep` beyond *max_depth* levels,
    ValueError for anything that is not JSON."""
    if json_depth(text) > max_depth:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)


@dataclass(frozen=True)
class BodyLimits:
    """Largest body per request: ``default`` for body methods, 0 for the others, or the
    first ``(path prefix, bytes)`` in ``paths`` that the request path starts with."""

    default: int
    paths: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    def limit(self, method: str, path: str) -> int:
        if method.upper() not in BODY_METHODS:
            return 0
        for prefix, size in self.paths:
            if path.startswith(prefix):
                return size
        return self.default


def _refusal(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"status": status, "message": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + body


class _LimitedMessage(httputil.HTTPMessageDelegate):
    """Sets the request's body limit from its headers, then hands over to the app."""

    def __init__(self, inner: httputil.HTTPMessageDelegate, conn: Any, limits: BodyLimits) -> None:
        self.inner = inner
        self.conn = conn
        self.limits = limits

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        limit = self.limits.limit(start_line.method, start_line.path.split("?", 1)[0])
        self.conn.set_max_body_size(limit)  # a chunked body is cut off here while it streams
        declared = headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            return self._refuse(limit)
        return self.inner.headers_received(start_line, headers)

    async def _refuse(self, limit: int) -> None:
        what = f"request bodies here are limited to {limit} bytes" if limit else "this request takes no body"
        stream = self.conn.detach()  # tornado stops reading: the body is never buffered
        try:
            await stream.write(_refusal(413, "Payload Too Large", f"Request body too large: {what}"))
            # Closing with unread data makes the kernel reset the connection, and the client
            # may lose the answer: say we are done, then read and drop what is in flight,
            # bounded in time (nothing is kept).
            stream.socket.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                await asyncio.wait_for(stream.read_bytes(65536, partial=True), left)
        except (StreamClosedError, TimeoutError, OSError):
            pass
        finally:
            stream.close()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


class _LimitedDelegate(httputil.HTTPServerConnectionDelegate):
    def __init__(self, app: httputil.HTTPServerConnectionDelegate, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection
                      ) -> httputil.HTTPMessageDelegate:
        return _LimitedMessage(self.app.start_request(server_conn, request_conn), request_conn, self.limits)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)


def hardened_server(app: httputil.HTTPServerConnectionDelegate, limits: BodyLimits, *,
                    header_timeout: float, body_timeout: float, max_header_size: int = 65536,
                    xheaders: bool = False) -> HTTPServer:
    """An HTTPServer for *app* with per-request body limits and connection timeouts."""
    largest = max([limits.default, *(size for _, size in limits.paths)])
    return HTTPServer(
        _LimitedDelegate(app, limits), xheaders=xheaders,
        max_body_size=largest,  # the backstop; each request gets its own limit
        max_header_size=max_header_size,
        idle_connection_timeout=header_timeout,  # tornado's header timeout
        body_timeout=body_timeout,
    )

