"""Hostile identifiers and specs are shown as text in the real pages; no script of theirs runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from launcher.config import LauncherConfig
from tests.launcher.e2e import no_rate_limit

pytestmark = pytest.mark.browser

PAYLOAD = (
    '"><img src=x onerror="window.__pwned=1;alert(1)">'
    "<script>window.__pwned=2;alert(2)</script>"
)


def _assert_nothing_ran(page: Any) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [], page.dialogs
    assert page.locator("img[src='x']").count() == 0
    # the only scripts are ours, loaded from /static/
    srcs = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert srcs, srcs
    assert all(s and "/static/" in s for s in srcs), srcs


def test_identifier_in_form_is_text(page: Any, shot: Any, launcher_factory: Any) -> None:
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/"))
    page.goto(server.url)
    page.fill("#identifier", PAYLOAD)
    shot(page, "filled")
    page.click("#resolve-btn")
    status = page.locator("#resolve-status")
    page.wait_for_function("document.getElementById('resolve-status').className.includes('error')")
    shot(page, "resolve-error")
    assert status.inner_text().startswith("Could not resolve"), status.inner_text()
    _assert_nothing_ran(page)
    assert page.input_value("#identifier") == PAYLOAD
    assert page.errors == [], page.errors


def test_prefilled_identifier_is_text(page: Any, shot: Any, launcher_factory: Any) -> None:
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/"))
    page.goto(server.url + "?id=" + quote(PAYLOAD, safe=""))
    page.wait_for_function("document.getElementById('resolve-status').textContent.length > 0")
    shot(page, "prefilled")
    assert page.input_value("#identifier") == PAYLOAD
    _assert_nothing_ran(page)


def test_spec_on_v2_page_and_in_the_log_is_text(page: Any, shot: Any, launcher_factory: Any) -> None:
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/"))
    page.goto(server.url + "v2/gh/" + quote(PAYLOAD, safe="") + "/repo/HEAD")
    assert page.inner_text("#spec") == "gh/" + PAYLOAD + "/repo/HEAD"
    # the stream answers with a failed event; its message is appended as text
    page.wait_for_selector("li.phase.failed")
    page.wait_for_function("document.getElementById('launch-status').textContent.startsWith('Failed')")
    shot(page, "v2-failed")
    assert page.inner_text("#log").strip()
    _assert_nothing_ran(page)
    assert page.errors == [], page.errors


def test_hostile_urlpath_is_refused_before_launch(page: Any, shot: Any, launcher_factory: Any) -> None:
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/"))
    page.goto(server.url + "v2/gh/o/r/HEAD?urlpath=" + quote("javascript:alert(document.domain)", safe=""))
    page.wait_for_function("document.getElementById('launch-status').textContent.length > 0")
    shot(page, "bad-urlpath")
    assert page.inner_text("#launch-status").startswith("400: Bad Request")
    assert page.inner_text("#log") == ""
    _assert_nothing_ran(page)


@pytest.mark.parametrize(
    ("urlpath", "expected"),
    [
        ("", "http://127.0.0.1:9/user/a/s/?token=t%26x"),
        ("/lab/tree/a b.ipynb", "http://127.0.0.1:9/user/a/s/lab/tree/a%20b.ipynb?token=t%26x"),
        ("git-pull?repo=https%3A%2F%2Fx", "http://127.0.0.1:9/user/a/s/git-pull?repo=https%3A%2F%2Fx&token=t%26x"),
        ("//evil.example/x", "http://127.0.0.1:9/user/a/s/evil.example/x?token=t%26x"),
        ("\\\\evil.example/x", "http://127.0.0.1:9/user/a/s/evil.example/x?token=t%26x"),
        ("javascript:alert(1)", "http://127.0.0.1:9/user/a/s/?token=t%26x"),
        ("https://evil.example/", "http://127.0.0.1:9/user/a/s/?token=t%26x"),
        ("../../hub/admin", "http://127.0.0.1:9/user/a/s/?token=t%26x"),
    ],
)
def test_redirect_stays_inside_the_server(page: Any, launcher_factory: Any, urlpath: str,
                                          expected: str) -> None:
    """The browser-side twin of launcher.urlpath: where ``ready`` sends the browser."""
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/"))
    page.goto(server.url + "about")
    got = page.evaluate(
        "p => Launcher.redirectUrl('http://127.0.0.1:9/user/a/s/', 't&x', p)", urlpath
    )
    assert got == expected
    # a server URL that is not http(s) is never followed
    assert page.evaluate("Launcher.redirectUrl('javascript:alert(1)//', 't', '')") is None
