"""Browser-test fixtures: Debian's headless Chromium driven by Playwright, a launcher on loopback.

- ``browser`` (module): the harness' Chromium (``tests/harness/chromium.py``).
- ``page``: a fresh context + page; JavaScript dialogs are recorded in ``page.dialogs`` and
  dismissed, page errors in ``page.errors``; clipboard access granted.
- ``shot(page, name)``: screenshot to ``artifacts/screenshots/<test>-<n>-<name>.png``.
- ``launcher_factory(config, **make_app_kwargs)``: the real tornado app (``make_app``) served
  from its own thread and event loop on a free loopback port; stopped after the test.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from tests.harness.chromium import new_page

SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"


class LauncherServer:
    """``make_app(config)`` on 127.0.0.1:<free port>, in a thread with its own event loop."""

    def __init__(self, config: Any, **app_kwargs: Any) -> None:
        self.config = config
        self.app_kwargs = app_kwargs
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="launcher-under-test", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.config.base_url}"

    def start(self) -> LauncherServer:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the launcher did not start within 30 s")
        if self._error:
            raise RuntimeError("the launcher failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as err:  # reported to the test thread
            self._error = err
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        from launcher.app import make_app

        app = make_app(self.config, **self.app_kwargs)
        sock, self.port = bind_unused_port()
        server = HTTPServer(app, xheaders=False)
        server.add_sockets([sock])
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        server.stop()
        try:
            await asyncio.wait_for(server.close_all_connections(), 10)
        except TimeoutError:
            pass

    def stop(self) -> None:
        if self._loop and self._stop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


@pytest.fixture
def launcher_factory() -> Iterator[Callable[..., LauncherServer]]:
    servers: list[LauncherServer] = []

    def make(config: Any, **app_kwargs: Any) -> LauncherServer:
        server = LauncherServer(config, **app_kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """The harness' Chromium (tests/harness/chromium.py), one per module."""
    return chromium


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    p = new_page(browser)
    p.context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        yield p
    finally:
        p.context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot; names are numbered in the order taken."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    for old in SCREENSHOTS.glob(f"{test}-[0-9][0-9]-*.png"):  # a previous run's, numbered differently
        old.unlink()
    counter = [0]

    def take(page: Any, name: str) -> Path:
        counter[0] += 1
        path = SCREENSHOTS / f"{test}-{counter[0]:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
