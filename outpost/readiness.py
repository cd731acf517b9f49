"""Readiness: the Outpost answers a start only once the server answers the hub's check.

After ``Spawner.start()`` returns, JupyterHub polls ``<server url>api`` with exponential
backoff and random jitter (``jupyterhub.utils.wait_for_http_server``: sleeps of
``uniform(0, 0.2·2^k)`` s, up to 5 s). A server that listens two seconds after its
container starts is noticed up to about three seconds late. The Outpost polls the same URL
tightly before it answers ``POST /services``, so the hub's first check succeeds.

"Ready" is strict, stricter than the hub: the URL is the one the hub will check (the
address handed to the hub plus the server's base URL), and only ``200`` with the Jupyter
server's API JSON (``{"version": ...}``) counts — a wrong base URL answers 404, which the
hub would accept.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlparse

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient

_PATH_SAFE = "/%:@!$&'()*+,;=-._~"

#: ``await exited()`` -> ``None`` while the server runs, else its exit status.
ExitCheck = Callable[[], Awaitable[int | None]]


class NotReady(Exception):
    """The server exited, or did not answer in time (shown to the user by the hub)."""


def health_url(service: str, prefix: str) -> str:
    """The URL JupyterHub checks after a start: ``http://<service><prefix>api``.

    *service* is what the Outpost answers (``host:port``, or a URL whose path is ignored,
    as the OutpostSpawner does); *prefix* the server's base URL
    (``JUPYTERHUB_SERVICE_PREFIX``, e.g. ``/user/alice/srv/``).
    """
    if "://" in service:
        parsed = urlparse(service)
        origin = f"{parsed.scheme}://{parsed.netloc}"
    else:
        origin = f"http://{service}"
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    # the hub sends the prefix already escaped; only characters no URL path may hold change
    return f"{origin}{quote(prefix, safe=_PATH_SAFE)}api"


def service_prefix(env: dict[str, str]) -> str:
    """The server's base URL from the environment the hub sent."""
    return env.get("JUPYTERHUB_SERVICE_PREFIX") or urlparse(
        env.get("JUPYTERHUB_SERVICE_URL", "")).path or "/"


def is_jupyter_api(code: int, body: bytes) -> bool:
    """Did a Jupyter server answer its API root (``200 {"version": ...}``)?"""
    if code != 200:
        return False
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "version" in data


class ReadinessProbe:
    """Polls one health URL until it answers; one HTTP client per Outpost."""

    def __init__(self, interval: float, exit_check_interval: float) -> None:
        self.interval = interval
        self.exit_check_interval = exit_check_interval
        self.http: AsyncHTTPClient = SimpleAsyncHTTPClient(force_instance=True, max_clients=256)

    async def answers(self, url: str) -> bool:
        request = HTTPRequest(url, follow_redirects=False, connect_timeout=2.0,
                              request_timeout=5.0)
        try:
            resp = await self.http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError, TimeoutError):
            return False  # not listening yet
        return is_jupyter_api(resp.code, resp.body or b"")

    async def wait(self, url: str, exited: ExitCheck) -> int:
        """Poll *url* every ``interval`` s until it answers; return the number of probes.

        Every ``exit_check_interval`` s the server is asked whether it exited, so a
        crashing image fails at once; raises :class:`NotReady` then. The caller bounds the
        wait (``asyncio.timeout``).
        """
        probes = 0
        next_exit_check = time.monotonic() + self.exit_check_interval
        while True:
            probes += 1
            if await self.answers(url):
                return probes
            if time.monotonic() >= next_exit_check:
                status = await exited()
                if status is not None:
                    raise NotReady(f"the server exited with status {status} before it answered")
                next_exit_check = time.monotonic() + self.exit_check_interval
            await asyncio.sleep(self.interval)

    def close(self) -> None:
        self.http.close()
