"""Issue 9, scenarios 1 and 2: a person launches from a badge on a paper's page and from the form.

``nfdi-launcher stack`` runs as the README starts it (tests/harness/stack.py); the
repositories come from the harness' git server behind the operator's URL rewrite. The
browser is Debian's headless Chromium. Nobody is logged in at the start: the launcher sends
the browser through the hub's login and back to the exact link, and the launch goes on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.harness.stack import RunningStack, hub_login
from tests.launcher.journey.browser import (
    LAUNCH_MS,
    REPO1,
    REPO2,
    author_page,
    badge_url,
    record_navigations,
    wait_for_lab,
    wait_for_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.registry, pytest.mark.hub,
              pytest.mark.slow]


def test_badge_on_a_paper_logs_in_and_opens_the_notebook(stack: RunningStack, chromium_page: Any,
                                                         tmp_path: Path) -> None:
    page = chromium_page
    link = badge_url(stack, REPO1, labpath="index.ipynb")
    seen = record_navigations(page)
    with author_page(tmp_path / "site", link, stack.launcher + "badge_logo.svg") as paper:
        page.goto(paper)
        page.click("#binder-badge")
        page.wait_for_url(re.compile(r".*/hub/login.*"))
        hub_login(page, stack, "alice")
        server = wait_for_lab(page, "alice")
    # the hub sent the browser back to the very link, query included; no second click
    after_login = seen[next(i for i, u in enumerate(seen) if "/hub/login" in u):]
    assert link in after_login, after_login
    assert urlsplit(page.url).path.endswith("/doc/tree/index.ipynb"), page.url
    wait_for_notebook(page)
    assert server.startswith(stack.public + "user/alice/")


def test_paste_resolve_and_launch_from_the_home_page(stack: RunningStack, chromium_page: Any,
                                                     git_server: Any) -> None:
    page = chromium_page
    page.goto(stack.launcher)  # the form, too, is the logged-in person's
    hub_login(page, stack, "bob")
    page.wait_for_url(stack.launcher)
    assert page.text_content("#whoami") == "bob"
    page.fill("#identifier", REPO2)
    page.click("#resolve-btn")
    commit = git_server.sha("journey-second", "refs/heads/main")
    page.wait_for_function(
        "sha => document.getElementById('t-ref').textContent.includes(sha)", arg=commit)
    # the share box's link launches exactly this version
    page.wait_for_function(
        "sha => document.getElementById('share-url').value.includes(sha)", arg=commit)
    share = page.input_value("#share-url")
    seen = record_navigations(page)
    page.click("#launch-btn")
    wait_for_lab(page, "bob", LAUNCH_MS)
    # the form launched through the very /v2/ link it offers to share
    assert share in seen, seen

    # Log out: out of the launcher and the hub; the launcher asks for a login again
    page.goto(stack.launcher)
    page.click("#logout-link")
    page.wait_for_url(re.compile(r".*/hub/login.*"))
    page.goto(stack.launcher)
    page.wait_for_url(re.compile(r".*/hub/login.*"))
