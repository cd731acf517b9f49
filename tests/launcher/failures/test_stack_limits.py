"""Issue 18 on ``nfdi-launcher stack`` as a person meets it (a user's hub token, the stack's
Outpost with its flavors.yaml): a second server on a flavor with a per-user limit, a flavor
whose servers are all in use, a storage folder the Outpost refuses. Each ends in one
``failed`` event in the person's words, after one start request to the Outpost.

The stack's ``large`` flavor (system ``local-large``) allows 1 server per user and 2 in all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests

from launcher import events
from tests.harness.stack import PUBLIC_GIT, RunningStack
from tests.launcher.failures.checks import assert_final

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.hub, pytest.mark.slow]

REPO1 = PUBLIC_GIT + "rees-dockerfile"
REPO2 = PUBLIC_GIT + "journey-second"
LARGE = {"system": "local-large", "flavor": "large"}
#: a first build in a fresh stack pushes the base layers; then a spawn
LAUNCH_S = 400


def launch(stack: RunningStack, user: str, repo: str, **query: str) -> list[dict[str, Any]]:
    """All events of one launch through the stack's launcher with *user*'s hub token."""
    url = f"{stack.launcher}build/git/{quote(repo, safe='')}/HEAD?{urlencode(query)}"
    headers = {"Accept": "text/event-stream",
               "Authorization": f"token {stack.user_token(user)}"}
    with requests.get(url, headers=headers, stream=True, timeout=LAUNCH_S) as r:
        assert r.status_code == 200, r.text[:300]
        body = "".join(chunk for chunk in r.iter_content(chunk_size=None, decode_unicode=True))
    return events.parse_stream(body)[0]


def refused_starts(stack: RunningStack) -> int:
    """Start requests the stack's Outpost answered with a refusal (its access log)."""
    return stack.log("outpost").count("419 POST /services")


@pytest.fixture(scope="module")
def limited(stack_pool: Any) -> Iterator[RunningStack]:
    """The stack with one server of ``fail-limit`` on the large flavor."""
    stack = stack_pool.get()
    ready = launch(stack, "fail-limit", REPO1, **LARGE)
    assert ready[-1]["phase"] == "ready", ready[-3:]
    yield stack
    for user in ("fail-limit", "fail-full-a", "fail-full-b", "fail-storage"):
        stack.remove_servers(user)


def test_a_second_server_over_the_per_user_limit(limited: RunningStack) -> None:
    before = refused_starts(limited)
    evs = launch(limited, "fail-limit", REPO2, **LARGE)
    final = assert_final(evs, "flavor_limit")
    assert final["message"].startswith(
        "You already run 1 server on 'Large: 2 CPU, 8 GB' (the limit). Stop one, or pick "
        "another flavor."), final
    assert refused_starts(limited) - before == 1
    assert list(limited.servers("fail-limit").values())[0]["ready"]  # the first one runs on


@pytest.mark.browser
def test_the_loading_page_says_it_and_offers_my_launches(limited: RunningStack,
                                                         chromium_page: Any) -> None:
    """The person follows a badge link to a second server on the large flavor."""
    page = chromium_page
    # the person's hub token identifies them to the launcher (as the hub's login would)
    page.set_extra_http_headers({"Authorization": f"token {limited.user_token('fail-limit')}"})
    link = f"{limited.launcher}v2/git/{quote(REPO2, safe='')}/HEAD?{urlencode(LARGE)}"
    page.goto(link)
    page.wait_for_selector("#failure:not([hidden])", timeout=LAUNCH_S * 1000)
    message = page.inner_text("#failure-message")
    assert message.startswith("You already run 1 server on 'Large: 2 CPU, 8 GB' (the limit)."), message
    assert "Request id: " in message
    button = page.locator("#next-action")
    assert button.inner_text() == "My launches"
    assert page.eval_on_selector("#next-action", "a => a.href") == f"{limited.launcher}#my-launches"
    assert page.get_attribute("#failure", "data-reason") == "flavor_limit"
    assert "Found built image" in page.inner_text("#log")  # the log is still there
    assert page.is_visible("li.phase.failed")


def test_a_flavor_whose_servers_are_all_in_use(limited: RunningStack) -> None:
    first = launch(limited, "fail-full-a", REPO1, **LARGE)  # the second of 2 in all
    assert first[-1]["phase"] == "ready", first[-3:]
    before = refused_starts(limited)
    evs = launch(limited, "fail-full-b", REPO1, **LARGE)
    final = assert_final(evs, "flavor_full")
    assert "All 2 servers on 'Large: 2 CPU, 8 GB' are in use." in final["message"]
    assert refused_starts(limited) - before == 1


def test_a_storage_folder_the_outpost_refuses(limited: RunningStack) -> None:
    # absolute and without '..': the launcher passes it on; the Outpost mounts only below
    # the home directory
    evs = launch(limited, "fail-storage", REPO1, system="local-small", flavor="small",
                 localstoragepath="/etc")
    final = assert_final(evs, "storage_path")
    assert "The storage folder must be below /home/jovyan/" in final["message"]
    log = json.dumps(evs)
    assert "outpost.mapping" not in log and "StoragePathError" not in log
