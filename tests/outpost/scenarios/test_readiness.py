"""The Outpost answers a start only once the server answers where the hub will check."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import requests

from tests.harness.hub import Hub
from tests.outpost.outpost_proc import OutpostProc, start_body

pytestmark = [pytest.mark.docker, pytest.mark.hub]


@pytest.fixture(scope="module")
def api_url(hub: Hub) -> str:
    """A real hub's API for the servers to report to (they listen only after reaching it)."""
    return hub.api_url + "/"


def test_start_is_answered_when_the_servers_api_answers_at_the_hubs_url(
        outpost: OutpostProc, api_url: str) -> None:
    r = outpost.request("POST", "/services", json=start_body("srv", api_url=api_url))
    assert r.status_code == 200, r.text
    service = r.json()["service"]
    # What the hub does next (User._wait_up: GET <address><base url>api): the first try works.
    first = requests.get(f"http://{service}/user/alice/srv/api", timeout=5,
                         allow_redirects=False)
    assert first.status_code == 200 and "version" in first.json()
    # An open port alone is not "ready": the base URL must be the hub's.
    assert requests.get(f"http://{service}/api", timeout=5).status_code == 404
    # The Outpost really waited (a server never listens in the instant its container runs).
    log = outpost.log_tail(400)
    answered = re.findall(rf"answered at http://{re.escape(service)}/user/alice/srv/api "
                          r"after ([0-9.]+) s \((\d+) probes\)", log)
    assert answered and int(answered[0][1]) > 1, log
    assert outpost.request("DELETE", "/services/srv/s1").status_code == 200
    assert outpost.containers() == []


def test_server_that_exits_before_it_answers_fails_at_once_with_its_log(
        outpost: OutpostProc, crash_image: str, api_url: str) -> None:
    started = time.monotonic()
    r = outpost.request("POST", "/services",
                        json=start_body("crash", image=crash_image, api_url=api_url))
    elapsed = time.monotonic() - started
    assert r.status_code == 419, r.text
    message = r.json()["args"][0]
    assert "exited with status 3 before it answered" in message
    assert "cannot start: no notebook here" in message
    assert elapsed < 30  # not the 120 s start timeout
    assert outpost.containers() == []
    assert outpost.request("GET", "/services/").json() == []


def test_the_flavors_start_timeout_bounds_the_wait(
        outpost_factory: Callable[..., OutpostProc]) -> None:
    flavors = {"flavors": {"quick": {"max": -1, "start_timeout": 3}}}
    outpost = outpost_factory(flavors=flavors)
    started = time.monotonic()
    # No hub to report to: this server never listens.
    r = outpost.request("POST", "/services", json=start_body("slow", flavor="quick"))
    elapsed = time.monotonic() - started
    assert r.status_code == 419, r.text
    assert "did not answer within 3 s" in r.json()["args"][0]
    assert 3 <= elapsed < 20
    assert outpost.containers() == []
    assert outpost.request("GET", "/services/").json() == []
