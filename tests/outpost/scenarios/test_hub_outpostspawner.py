"""The real OutpostSpawner (PyPI) in a real JupyterHub talks to our Outpost."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.harness.hub import Hub, progress_events, wait_for
from tests.outpost.outpost_proc import OutpostProc, hub_snippet, user_options

pytestmark = [pytest.mark.docker, pytest.mark.hub]


def _spawn(hub: Hub, user: str, server: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    hub.ensure_user(user)
    r = hub.api("POST", f"/users/{user}/servers/{server}", json=options)
    assert r.status_code in (201, 202), r.text
    return progress_events(hub, user, server)


def _server(hub: Hub, user: str, server: str) -> dict[str, Any] | None:
    servers: dict[str, Any] = hub.api("GET", f"/users/{user}").json().get("servers", {})
    return servers.get(server)


def _lab(hub: Hub, path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
    return requests.request(method, hub.url.rstrip("/") + path, timeout=30,
                            headers={"Authorization": f"token {hub.token}"}, **kwargs)


def test_start_poll_stop_through_the_outpost(outpost: OutpostProc,
                                             hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hub_snippet(outpost, "hub-a"))
    events = _spawn(hub, "alice", "srv", user_options(flavor="small"))
    assert events[-1].get("ready"), events
    messages = " ".join(e.get("message", "") for e in events)
    assert "Outpost: starting a container from local/jupyter-base:6.1.1" in messages
    url = events[-1]["url"]
    assert _lab(hub, url + "api/status").status_code == 200
    put = _lab(hub, url + "api/contents/work/note.txt", "PUT",
               json={"type": "file", "format": "text", "content": "hello"})
    assert put.status_code in (200, 201), put.text

    listed = outpost.request("GET", "/services/").json()
    assert [s["name"] for s in listed] == ["srv"]
    user_id = hub.api("GET", "/users/alice").json()
    assert len(outpost.containers()) == 1
    assert user_id
    # The hub keeps polling (every 2 s); the server stays up.
    time.sleep(5)
    assert (_server(hub, "alice", "srv") or {}).get("ready")

    hub.stop_server("alice", "srv")
    assert outpost.containers() == []
    assert outpost.request("GET", "/services/").json() == []


def _clock(line: str) -> float:
    """Seconds since midnight of a log line's ``HH:MM:SS.mmm`` time."""
    match = re.search(r"(\d\d):(\d\d):(\d\d\.\d+)", line)
    assert match, line
    h, m, sec = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(sec)


def test_the_hubs_first_readiness_check_succeeds(outpost: OutpostProc,
                                                 hub_factory: Callable[..., Hub]) -> None:
    config = hub_snippet(outpost, "hub-a") + "\nc.JupyterHub.log_level = 'DEBUG'\n"
    hub = hub_factory(spawner="outpost", config=config)
    events = _spawn(hub, "alice", "srv", user_options())
    assert events[-1].get("ready"), events
    url_re = r"http://127\.0\.0\.1:\d+/user/alice/srv/api"
    hub_log = hub.log_path.read_text(errors="replace").splitlines()
    waiting = [line for line in hub_log if re.search(rf"Waiting \S+ for server at {url_re}", line)]
    responded = [re.search(rf"Server at {url_re} responded in ([0-9.]+)s", line)
                 for line in hub_log]
    seconds = [float(m.group(1)) for m in responded if m]
    retries = [line for line in hub_log if re.search(
        rf"(Failed to connect to|Error while waiting for server|responded with error).*{url_re}",
        line)]
    assert len(waiting) == 1 and len(seconds) == 1 and not retries, "\n".join(hub_log[-60:])
    # The hub began checking only after the Outpost had seen the server answer, so its
    # first check found the server listening (a refused connection is the one failure the
    # hub does not log; every other one would be in `retries`) ...
    answered = [line for line in outpost.log_tail(400).splitlines()
                if re.search(rf"hub-a/srv answered at {url_re}", line)]
    assert len(answered) == 1, outpost.log_tail(60)
    assert _clock(answered[0]) <= _clock(waiting[0])
    # ... and it took one request, no backoff (the server listens seconds after its
    # container starts: without the Outpost's wait this was 4 s here).
    assert seconds[0] < 1.0, seconds
    messages = [e.get("message", "") for e in events]
    assert any("Outpost: container started" in m for m in messages), messages
    hub.stop_server("alice", "srv")
    assert outpost.containers() == []


def test_outpost_restart_while_servers_run(outpost: OutpostProc,
                                           hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hub_snippet(outpost, "hub-a"))
    urls = {}
    for name in ("one", "two"):
        events = _spawn(hub, "alice", name, user_options())
        assert events[-1].get("ready"), events
        urls[name] = events[-1]["url"]
    containers = {c.rsplit("-", 2)[-2]: c for c in outpost.containers()}
    assert set(containers) == {"one", "two"}

    outpost.restart()
    time.sleep(5)  # two poll rounds against the new process
    for name in ("one", "two"):
        assert (_server(hub, "alice", name) or {}).get("ready"), hub.log_tail()
        assert _lab(hub, urls[name] + "api/status").status_code == 200

    # Still stoppable through the hub ...
    hub.stop_server("alice", "one")
    assert list(outpost.containers()) == [containers["two"]]
    # ... and still polled: a server that dies is noticed by the hub.
    subprocess.run(["docker", "rm", "-f", containers["two"]], check=True, capture_output=True)
    wait_for(lambda: _server(hub, "alice", "two") is None, 60,
             "the hub to notice the dead server through the restarted Outpost")
    wait_for(lambda: outpost.request("GET", "/services/").json() == [], 30, "Outpost cleanup")


def test_two_hubs_with_different_credentials_are_isolated(
        outpost: OutpostProc, hub_factory: Callable[..., Hub]) -> None:
    hub_a = hub_factory(spawner="outpost", config=hub_snippet(outpost, "hub-a"))
    hub_b = hub_factory(spawner="outpost", config=hub_snippet(outpost, "hub-b1"))
    for hub in (hub_a, hub_b):
        assert _spawn(hub, "alice", "srv", user_options())[-1].get("ready")
    assert len(outpost.containers()) == 2
    for hub_name in ("hub-a", "hub-b1"):
        listed = outpost.request("GET", "/services/", hub=hub_name).json()
        assert [(s["name"], s["jupyterhub"]) for s in listed] == [("srv", hub_name)]
    hub_a.stop_server("alice", "srv")
    assert len(outpost.containers()) == 1
    time.sleep(3)
    assert (_server(hub_b, "alice", "srv") or {}).get("ready")
    hub_b.stop_server("alice", "srv")
    assert outpost.containers() == []


def test_refusals_reach_the_user_and_nothing_runs(outpost: OutpostProc,
                                                  hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hub_snippet(outpost, "hub-a"))
    cases = [
        (user_options(flavor="huge"), "The flavor 'huge' does not exist on this system"),
        (user_options(image="docker.io/library/busybox:1"), "not from an allowed registry"),
        (user_options(system="nowhere"), "Unknown system"),
        # Allowed registry, but no such image: the DockerSpawner itself fails to start.
        (user_options(image="local/nfdi-test-outpost-missing:1"), "nfdi-test-outpost-missing"),
    ]
    for i, (options, message) in enumerate(cases):
        events = _spawn(hub, "alice", f"bad{i}", options)
        assert events[-1].get("failed"), events
        assert message in json.dumps(events), events
        wait_for(lambda i=i: _server(hub, "alice", f"bad{i}") is None
                 or not _server(hub, "alice", f"bad{i}").get("pending"), 30, "spawn to end")
        assert not (_server(hub, "alice", f"bad{i}") or {}).get("ready")
    assert outpost.containers() == []
    assert outpost.request("GET", "/services/").json() == []


def test_wrong_hub_password_is_refused(outpost: OutpostProc,
                                       hub_factory: Callable[..., Hub]) -> None:
    snippet = hub_snippet(outpost, "hub-a", password="not-the-password")
    hub = hub_factory(spawner="outpost", config=snippet)
    events = _spawn(hub, "alice", "srv", user_options())
    assert events[-1].get("failed"), events
    assert "401" in json.dumps(events)
    assert outpost.containers() == []
