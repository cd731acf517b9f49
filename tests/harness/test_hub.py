"""Self-test of the JupyterHub harness: a real hub, proxy and DockerSpawner on loopback."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from tests.harness.hub import BASE_IMAGE, Hub, progress_events

pytestmark = [pytest.mark.hub, pytest.mark.docker]


def test_hub_api_answers_with_service_token(hub: Hub) -> None:
    r = hub.api("GET", "/")
    assert r.status_code == 200
    assert r.json()["version"].startswith("6.")
    # Without the token the same API refuses: the token is what grants access.
    assert requests.get(hub.api_url + "/users", timeout=10).status_code == 403


def test_start_and_stop_server_of_base_image_through_rest_api(hub: Hub) -> None:
    hub.ensure_user("alice")
    r = hub.api("POST", "/users/alice/servers/demo", json={"image": BASE_IMAGE})
    assert r.status_code in (201, 202), r.text
    events = progress_events(hub, "alice", "demo")
    assert events[-1].get("ready"), events
    url = hub.url.rstrip("/") + events[-1]["url"]
    # The single-user server answers through configurable-http-proxy with the token.
    status = requests.get(url + "api/status", headers={"Authorization": f"token {hub.token}"},
                          timeout=30)
    assert status.status_code == 200, status.text
    assert "kernels" in status.json()
    # Its container runs on the host network bound to loopback only.
    name = f"nfdi-test-hub-{hub.hub_id}-alice--demo"
    inspect = subprocess.run(["docker", "inspect", "-f", "{{.HostConfig.NetworkMode}}", name],
                             capture_output=True, text=True, check=True)
    assert inspect.stdout.strip() == "host"

    hub.stop_server("alice", "demo")
    gone = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{name}$"],
                          capture_output=True, text=True, check=True)
    assert gone.stdout.strip() == ""
    # The proxy route is gone: the hub answers instead (redirect to its own page).
    after = requests.get(url + "api/status", timeout=10, allow_redirects=False)
    assert after.status_code in (302, 404, 424, 503), after.status_code


def test_image_outside_allowed_registries_is_refused(hub: Hub) -> None:
    hub.ensure_user("mallory")
    r = hub.api("POST", "/users/mallory/servers/x", json={"image": "docker.io/library/busybox"})
    assert r.status_code in (201, 202, 400, 500), r.text
    if r.status_code in (201, 202):
        # The spawn fails at once; a refusal that is over before the progress stream is
        # opened answers 400 "not pending" there, so the hub's log is the other witness.
        progress = hub.api("GET", "/users/mallory/servers/x/progress", stream=True, timeout=60,
                           headers={"Accept": "text/event-stream"})
        with progress:
            if progress.status_code == 200:
                events = [json.loads(line[5:]) for line in progress.iter_lines(decode_unicode=True)
                          if line and line.startswith("data:")]
                assert events[-1].get("failed"), events
                assert "not in allowed" in events[-1]["message"]
            else:
                assert "not in allowed" in hub.log_tail(200)
    model = hub.api("GET", "/users/mallory").json()
    assert not model["servers"].get("x", {}).get("ready"), model
