"""The one HTTP client of ``fdo``: policy-checked, address-pinned, bounded, cached.

Each hop of a request is planned by :func:`fdo.net.policy.plan` (rewrite, scheme,
credentials, DNS answers checked) and the TCP connection goes to one of the checked
addresses with SNI and ``Host`` set to the real name. Redirects are followed here, one
checked hop at a time; environment proxies are never used.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError, SSLError

from fdo.config import NetConfig
from fdo.errors import FetchError, NotFound, RefusedTarget, UpstreamError
from fdo.net.body import (
    FileSink,
    Memory,
    Prefix,
    Sink,
    TooLarge,
    parse_checksum,
    read_body,
    short_error,
)
from fdo.net.cache import TTLCache, cache_key
from fdo.net.policy import Destination, plan, redact_url, unrewrite

log = logging.getLogger("fdo.net")

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_MAX_POOLS = 64  # connection pools kept (one per checked address and host name)


@dataclass(frozen=True)
class HttpResponse:
    """A complete (body read) HTTP answer.

    ``url`` is the logical URL asked for and ``final_url`` the logical URL of the last
    hop after redirects, both before operator rewrites (what a record would show).
    """

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str] = field(default_factory=urllib3.HTTPHeaderDict)
    body: bytes = b""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise UpstreamError(
                f"{redact_url(self.final_url)} did not answer with JSON (HTTP {self.status})"
            ) from None


class HttpNotFound(NotFound):
    """404/410 from the server; ``response`` holds the answer (e.g. a Handle code 100)."""

    def __init__(self, message: str, response: HttpResponse) -> None:
        super().__init__(message)
        self.response = response


class HttpStatusError(UpstreamError):
    """An unexpected HTTP status (after retries); ``response`` holds the answer."""

    def __init__(self, message: str, response: HttpResponse) -> None:
        super().__init__(message)
        self.response = response


class HttpClient:
    """All outbound HTTP of ``fdo``. Thread-safe; share one per process.

    ``round_trips`` counts requests actually sent (each redirect hop and retry counts;
    answers served from the cache do not).
    """

    def __init__(self, config: NetConfig | None = None) -> None:
        self.config = config if config is not None else NetConfig()
        self.round_trips = 0
        self.cache: TTLCache[HttpResponse] = TTLCache(
            self.config.cache_ttl, self.config.cache_max_entries
        )
        self._pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep

    # -- public API -------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
        ok_statuses: Collection[int] = (200,),
        cache: bool = True,
    ) -> HttpResponse:
        """GET ``url``; raises RefusedTarget (policy), NotFound (404/410 unless in
        ``ok_statuses``) or UpstreamError (other status, timeout, too big)."""
        hdrs = dict(headers or {})
        key = cache_key("GET", url, hdrs, extra=f"redirects={follow_redirects}")
        entry, fresh = self.cache.get(key) if cache else (None, False)
        if entry is not None and fresh:
            self._raise_for_status(entry.value, ok_statuses)
            return entry.value
        if entry is not None and entry.etag:
            hdrs["If-None-Match"] = entry.etag
        limit = self.config.max_response_bytes if max_bytes is None else max_bytes
        sink = Memory()
        resp = self._exchange("GET", url, hdrs, None, limit, follow_redirects, sink)
        if resp.status == 304 and entry is not None:
            self.cache.touch(key)
            self._raise_for_status(entry.value, ok_statuses)
            return entry.value
        self._raise_for_status(resp, ok_statuses)
        if cache:
            self.cache.put(key, resp, resp.headers.get("ETag"))
        return resp

    def get_json(self, url: str, **kw: Any) -> Any:
        """GET and decode JSON (``Accept: application/json`` unless given)."""
        headers = {"Accept": "application/json", **dict(kw.pop("headers", None) or {})}
        return self.get(url, headers=headers, **kw).json()

    def post_json(
        self,
        url: str,
        body: Any | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        ok_statuses: Collection[int] = (200, 201, 202),
    ) -> HttpResponse:
        """POST a JSON body (e.g. Software Heritage vault cooking); never cached."""
        hdrs = {"Accept": "application/json", **dict(headers or {})}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        limit = self.config.max_response_bytes if max_bytes is None else max_bytes
        resp = self._exchange("POST", url, hdrs, data, limit, True, Memory())
        self._raise_for_status(resp, ok_statuses)
        return resp

    def peek(
        self, url: str, *, headers: Mapping[str, str] | None = None, max_bytes: int = 64 * 1024
    ) -> HttpResponse:
        """GET ``url`` without following redirects and read at most ``max_bytes`` of the
        body (the rest is dropped with the connection). Any status is returned, nothing is
        cached: for asking "is it ready yet?" without downloading it."""
        return self._exchange("GET", url, dict(headers or {}), None, max_bytes, False, Prefix())

    def download(
        self, url: str, dest: Path, *, max_bytes: int | None = None, checksum: str | None = None
    ) -> int:
        """Stream ``url`` into ``dest``; verify ``"md5:<hex>"``/``"sha256:<hex>"``.

        Returns the size; raises FetchError on checksum mismatch or when the file is
        bigger than ``max_bytes`` (default ``NetConfig.max_download_bytes``); ``dest``
        is removed on any failure.
        """
        algo, expected = parse_checksum(checksum)
        limit = self.config.max_download_bytes if max_bytes is None else max_bytes
        try:
            with open(dest, "wb") as fh:
                sink = FileSink(fh, algo)
                try:
                    resp = self._exchange("GET", url, {}, None, limit, True, sink)
                except TooLarge as err:
                    raise FetchError(str(err)) from None
            self._raise_for_status(resp, (200,))
            if sink.hasher is not None and sink.hasher.hexdigest() != expected:
                raise FetchError(
                    f"checksum mismatch for {redact_url(url)}: expected {algo}:{expected}, "
                    f"got {algo}:{sink.hasher.hexdigest()}; the file changed or was corrupted"
                )
            return sink.size
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Close pooled connections (the client stays usable)."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()

    # -- machinery --------------------------------------------------------------------

    def _raise_for_status(self, resp: HttpResponse, ok: Collection[int]) -> None:
        if resp.status in ok:
            return
        shown = redact_url(resp.final_url)
        if resp.status in (404, 410):
            raise HttpNotFound(f"not found: {shown} answered HTTP {resp.status}", resp)
        raise HttpStatusError(f"{shown} answered HTTP {resp.status}", resp)

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        limit: int,
        follow: bool,
        sink: Sink,
    ) -> HttpResponse:
        """Send, following redirects hop by hop; the final body goes to ``sink``."""
        current, hops, prev = url, 0, None
        while True:
            if prev is not None:
                _check_downgrade(prev.logical, current, url)
            dest = plan(current, self.config)
            same_host = prev is None or _host(prev.logical) == _host(dest.logical)
            hdrs = headers if same_host else _strip_auth(headers)
            status, resp_headers = self._send_with_retries(method, dest, hdrs, body, limit, sink)
            location = resp_headers.get("Location")
            if not (follow and status in REDIRECT_STATUSES and location):
                return HttpResponse(url, current, status, resp_headers, bytes(getattr(sink, "data", b"")))
            nxt = urljoin(dest.url, location.strip())
            if dest.trusted:
                nxt = unrewrite(nxt, self.config.effective_rewrites())
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
            sink.reset()
            prev, current, hops = dest, nxt, hops + 1
            if hops > self.config.max_redirects:
                raise RefusedTarget(
                    f"refused {redact_url(url)}: more than {self.config.max_redirects} redirects"
                )

    def _send_with_retries(
        self,
        method: str,
        dest: Destination,
        headers: Mapping[str, str],
        body: bytes | None,
        limit: int,
        sink: Sink,
    ) -> tuple[int, urllib3.HTTPHeaderDict]:
        shown = redact_url(dest.logical)
        attempts = max(0, self.config.retries) + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            sink.reset()
            try:
                resp = self._open(method, dest, headers, body)
                if resp.status in _RETRY_STATUSES and not last:
                    delay = self._delay(attempt, resp.headers.get("Retry-After"))
                    resp.close()  # never read an error body of unknown size
                    resp.release_conn()
                    self.sleep(delay)
                    continue
                read_body(resp, limit, sink, shown, self.config.max_transfer_seconds)
                return resp.status, resp.headers
            except SSLError as err:
                raise UpstreamError(f"TLS error talking to {shown}: {short_error(err)}") from None
            except Urllib3Error as err:
                if last:
                    raise UpstreamError(
                        f"{shown} did not answer ({short_error(err)}) after {attempts} attempts"
                    ) from None
                self.sleep(self._delay(attempt, None))
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.config.retry_backoff * (2**attempt)
        if retry_after:
            delay = max(delay, _retry_after_seconds(retry_after))
        return float(min(max(delay, 0.0), self.config.retry_max_delay))

    def _open(
        self, method: str, dest: Destination, headers: Mapping[str, str], body: bytes | None
    ) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(dest.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = 443 if dest.scheme == "https" else 80
        host_header = dest.host if dest.port == default else f"{dest.host}:{dest.port}"
        if ":" in dest.host:
            host_header = f"[{dest.host}]" if dest.port == default else f"[{dest.host}]:{dest.port}"
        hdrs = {"User-Agent": self.config.user_agent, **headers, "Host": host_header}
        error: Urllib3Error | None = None
        for address in dest.addresses:
            pool = self._pool(dest, address)
            with self._lock:
                self.round_trips += 1
            try:
                return pool.urlopen(
                    method, target, body=body, headers=hdrs, redirect=False, retries=False,
                    preload_content=False, assert_same_host=False,
                )
            except NewConnectionError as err:
                error = err  # try the next checked address
        assert error is not None
        raise error

    def _pool(self, dest: Destination, address: str) -> urllib3.HTTPConnectionPool:
        key = (dest.scheme, address, dest.port, dest.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
            else:
                timeout = urllib3.Timeout(connect=self.config.timeout, read=self.config.timeout)
                if dest.scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        address, dest.port, timeout=timeout, maxsize=4,
                        server_hostname=dest.host, assert_hostname=dest.host,
                        cert_reqs="CERT_REQUIRED", ca_certs=self.config.ca_bundle or None,
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(address, dest.port, timeout=timeout, maxsize=4)
                self._pools[key] = pool
                while len(self._pools) > _MAX_POOLS:
                    self._pools.popitem(last=False)[1].close()
            return pool


def _retry_after_seconds(value: str) -> float:
    """``Retry-After`` as seconds or as an HTTP date; 0 when unparsable."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - time.time())


def _check_downgrade(prev: str, nxt: str, url: str) -> None:
    if urlsplit(prev).scheme.lower() == "https" and urlsplit(nxt).scheme.lower() != "https":
        raise RefusedTarget(
            f"refused {redact_url(url)}: redirect from https to {redact_url(nxt)!r} "
            "is a downgrade to an insecure scheme"
        )


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _strip_auth(headers: Mapping[str, str]) -> dict[str, str]:
    """Credentials never follow a redirect to another host."""
    return {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
