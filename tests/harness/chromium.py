"""Debian's headless Chromium driven by Playwright (never ``playwright install``).

- ``chromium`` (module): one browser process per test module. Not per session: Playwright's
  sync API keeps its event loop marked as running in this thread while it is open, and
  pytest-asyncio could then run no ``async def`` test.
- ``chromium_page``: a fresh context (own cookies) + page; dialogs are recorded in
  ``page.dialogs`` and dismissed, page errors in ``page.errors``.
- :func:`new_page` makes more isolated pages (a second person) from the same browser.
- :func:`screenshot` saves ``artifacts/screenshots/<name>.png`` (for failed-test forensics).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
#: default for every Playwright wait (ms); long waits (builds, spawns) pass their own
DEFAULT_TIMEOUT_MS = 30_000


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_FLAGS, timeout=60_000)


def new_page(browser: Any) -> Any:
    """A page in a new context: its own cookies, like another person's browser."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.dialogs = []
    page.errors = []

    def on_dialog(dialog: Any) -> None:
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    return page


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:100] + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = new_page(chromium)
    try:
        yield page
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            try:
                screenshot(page, request.node.name + "-failed")
            except Exception:  # the page may be gone; the failure matters, not the picture
                pass
        try:
            page.context.close()
        except Exception:  # a test may have closed it (a person leaving)
            pass


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
