"""Issue 9, scenarios 3 and 4: ~/work follows the person; "My launches" lists and stops servers.

One person (carol) launches two repositories in turn. A file saved under ~/work in the first
server is open in the second one. The home page's "My launches" lists both servers with
their pinned commits, and *Stop* stops one. A badge of a target whose server still runs
opens that server at once: no second server, no build — also when the badge names no
resource and the server runs on another system than the default one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.harness.stack import RunningStack, hub_login
from tests.launcher.journey.browser import (
    LAUNCH_MS,
    REPO1,
    REPO2,
    badge_url,
    record_navigations,
    save_file,
    wait_for_lab,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.registry, pytest.mark.hub,
              pytest.mark.slow]

USER = "carol"
NOTE = "measured on Tuesday: 42\n"


def _row(page: Any, repo: str) -> Any:
    return page.locator("#my-launches tr.launch", has_text=repo.rsplit("/", 1)[1])


def test_work_files_follow_the_person_and_my_launches_stops_a_server(
        stack: RunningStack, chromium_page: Any, git_server: Any) -> None:
    stack.remove_servers(USER)
    page = chromium_page
    page.goto(stack.launcher)
    hub_login(page, stack, USER)
    page.wait_for_url(stack.launcher)

    page.goto(badge_url(stack, REPO1))
    first = wait_for_lab(page, USER, LAUNCH_MS)
    save_file(page, first, "work/notes.txt", NOTE)

    page.goto(badge_url(stack, REPO2))
    second = wait_for_lab(page, USER, LAUNCH_MS)
    assert second != first
    page.goto(second + "lab/tree/work/notes.txt")
    page.locator(".cm-content", has_text="measured on Tuesday: 42").wait_for(timeout=60_000)

    page.goto(stack.launcher)
    page.locator("#my-launches tr.launch").nth(1).wait_for()
    assert page.locator("#my-launches tr.launch").count() == 2
    for repo, scenario, server in ((REPO1, "rees-dockerfile", first),
                                   (REPO2, "journey-second", second)):
        row = _row(page, repo)
        sha = git_server.sha(scenario, "HEAD")
        assert sha[:12] in row.locator(".l-ref").text_content()
        assert row.locator(".l-system").text_content() == "local-small"
        assert row.locator(".l-state").text_content() == "running"
        assert row.locator("a.open").get_attribute("href") == server

    _row(page, REPO1).locator("button.stop").click()
    _row(page, REPO1).wait_for(state="detached", timeout=120_000)
    assert list(stack.servers(USER)) == [_name(second)]
    assert page.locator("#my-launches tr.launch").count() == 1

    # the badge of the target that still runs opens it at once: no new server, no build
    seen = record_navigations(page)
    again, took = _timed_open(page, badge_url(stack, REPO2))
    assert again == second
    assert len(stack.servers(USER)) == 1
    assert took < 15, f"reopening a running server took {took:.1f} s"
    assert not any("/hub/login" in url for url in seen)

    # ... also when it runs on another resource than the badge's default one
    large = _launch(page, badge_url(stack, REPO1, system="local-large"))
    assert stack.servers(USER)[_name(large)]["user_options"]["system"] == "local-large"
    again, took = _timed_open(page, badge_url(stack, REPO1))
    assert again == large
    assert len(stack.servers(USER)) == 2
    assert took < 15, f"reopening a running server took {took:.1f} s"


def _launch(page: Any, link: str) -> str:
    page.goto(link)
    return wait_for_lab(page, USER, LAUNCH_MS)


def _timed_open(page: Any, link: str) -> tuple[str, float]:
    started = time.monotonic()
    page.goto(link)
    server = wait_for_lab(page, USER, 30_000)
    return server, time.monotonic() - started


def _name(server_url: str) -> str:
    return server_url.rstrip("/").rsplit("/", 1)[1]
