"""Bounded reading of response bodies into memory or a file (with a running checksum)."""

from __future__ import annotations

import hashlib
import time
from typing import BinaryIO, Protocol

import urllib3

from fdo.errors import FetchError, UpstreamError

CHUNK = 64 * 1024


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def reset(self) -> None: ...


class Memory:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def reset(self) -> None:
        self.data.clear()


class Prefix(Memory):
    """Keeps only the first bytes of a body; the rest is not read (the connection closes)."""


class FileSink:
    def __init__(self, fh: BinaryIO, algo: str | None) -> None:
        self.fh, self.algo = fh, algo
        self.hasher = hashlib.new(algo) if algo else None
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.size += len(data)
        if self.hasher is not None:
            self.hasher.update(data)

    def reset(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.size = 0
        self.hasher = hashlib.new(self.algo) if self.algo else None


class TooLarge(UpstreamError):
    """The answer is bigger than the limit (fetch turns this into a FetchError)."""


class _Stop(Exception):
    pass


def read_body(resp: urllib3.BaseHTTPResponse, limit: int, sink: Sink, shown: str,
              max_seconds: float) -> None:
    """Stream the (decoded) body into ``sink``; bounded in bytes and in total time."""
    try:
        length = int(resp.headers.get("Content-Length", "-1"))
    except ValueError:
        length = -1
    truncate = isinstance(sink, Prefix)
    if length > limit and not truncate:
        resp.close()
        resp.release_conn()
        raise TooLarge(f"{shown} is larger than the limit of {limit} bytes")
    deadline = time.monotonic() + max_seconds
    total = 0
    try:
        # read1 returns what has arrived, so the deadline is checked while a server drips
        while chunk := resp.read1(CHUNK, decode_content=True):
            total += len(chunk)
            if total > limit and truncate:
                sink.write(chunk[: len(chunk) - (total - limit)])
                resp.close()  # the rest is not wanted
                return
            if total > limit or time.monotonic() > deadline:
                raise _Stop
            sink.write(chunk)
    except _Stop:
        resp.close()
        if total > limit:
            raise TooLarge(f"{shown} is larger than the limit of {limit} bytes") from None
        raise UpstreamError(f"{shown} took longer than {max_seconds:.0f} s to transfer") from None
    finally:
        resp.release_conn()


def parse_checksum(checksum: str | None) -> tuple[str | None, str | None]:
    if not checksum:
        return None, None
    algo, sep, value = checksum.partition(":")
    algo = algo.lower().replace("-", "")
    if not sep or algo not in ("md5", "sha1", "sha256", "sha512") or not value:
        raise FetchError(f"unsupported checksum {checksum!r}; expected md5:<hex> or sha256:<hex>")
    return algo, value.lower()


def short_error(err: BaseException) -> str:
    text = str(err).split("\n", 1)[0]
    return text[:200]
