"""Issue 9, scenario 5: ``nfdi-launcher stack --anonymous`` — no login, like mybinder.org.

A badge opens JupyterLab without any login page, as a temporary hub user; once nobody uses
the server, jupyterhub-idle-culler (a hub service of the stack) removes the server and then
the temporary user. The test runs the culler with a 20 s timeout.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness.hub import wait_for
from tests.harness.stack import RunningStack, StackPool
from tests.launcher.journey.browser import (
    LAUNCH_MS,
    REPO1,
    badge_url,
    record_navigations,
    wait_for_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.registry, pytest.mark.hub,
              pytest.mark.slow]

CULL_TIMEOUT = 20


@pytest.fixture
def anonymous_stack(stack_pool: StackPool) -> RunningStack:
    return stack_pool.get("--anonymous", "--cull-timeout", str(CULL_TIMEOUT))


def test_anonymous_badge_opens_lab_without_login_and_idle_servers_are_culled(
        anonymous_stack: RunningStack, chromium_page: Any) -> None:
    stack = anonymous_stack
    page = chromium_page
    seen = record_navigations(page)
    page.goto(badge_url(stack, REPO1, labpath="index.ipynb"))
    page.wait_for_url(re.compile(r".*/user/[^/]+/[^/]+/doc/tree/index\.ipynb.*"),
                      timeout=LAUNCH_MS)
    wait_for_notebook(page)
    assert not any("/hub/login" in url for url in seen), seen
    user = re.search(r"/user/([^/]+)/", page.url).group(1)  # type: ignore[union-attr]
    assert stack.hub_api("GET", f"/users/{user}").status_code == 200  # a temporary hub user
    assert [s["ready"] for s in stack.servers(user).values()] == [True]

    page.context.close()  # the person leaves; nothing uses the server any more
    wait_for(lambda: stack.hub_api("GET", f"/users/{user}").status_code == 404,
             CULL_TIMEOUT * 6, "the culler to remove the idle server and the temporary user",
             interval=2)
    assert "idle-culler" in stack.log("jupyterhub")
