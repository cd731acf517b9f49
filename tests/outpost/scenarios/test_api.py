"""The Outpost REST API over HTTP, with the real DockerSpawner backend starting containers."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness.hub import Hub, wait_for
from tests.outpost.conftest import docker_exec
from tests.outpost.outpost_proc import OutpostProc, start_body

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def api_url(hub: Hub) -> str:
    """A real hub's API for the servers to report to (they listen only after reaching it)."""
    return hub.api_url + "/"


def test_ping_is_open_everything_else_needs_the_hub_password(outpost: OutpostProc) -> None:
    assert outpost.request("GET", "/ping", hub=None).json() == {"ping": "pong!"}
    for path in ("/flavors/", "/services/"):
        assert outpost.request("GET", path, hub=None).status_code == 401
        r = outpost.request("GET", path, hub=None, auth=("hub-a", "wrong"))
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith("Basic")
        assert outpost.request("GET", path, hub=None, auth=("nobody", "x")).status_code == 401
    assert outpost.request("GET", "/flavors/").status_code == 200
    # The password never shows up in the log.
    assert outpost.credentials["hub-a"] not in outpost.log_tail(400)


def test_each_hub_sees_its_own_flavors_ordered_by_weight(outpost: OutpostProc) -> None:
    a = outpost.request("GET", "/flavors/").json()
    assert list(a) == ["small", "large"]
    assert a["small"]["current"] == 0
    assert a["small"]["max"] == 4
    assert a["small"]["resources"] == {"cpu_limit": 1, "mem_limit": "1G"}
    b = outpost.request("GET", "/flavors/", hub="hub-b1").json()
    assert list(b) == ["small", "hubb-only"]
    # No users rules: a user's flavors are the hub's.
    assert list(outpost.request("POST", "/userflavors", json={"name": "x"}).json()) == list(a)


@pytest.mark.parametrize("body, loc", [
    ("not json", "body"),
    ([1, 2], "body"),
    ({"name": "x"}, "env"),
    ({"name": "x", "env": {"JUPYTERHUB_API_TOKEN": "t"}}, "JUPYTERHUB_USER"),
    ({"name": "x", "env": {"JUPYTERHUB_USER": "a", "JUPYTERHUB_API_TOKEN": "t", "N": 1}}, "env"),
    ({"name": "a/b", "env": {"JUPYTERHUB_USER": "a", "JUPYTERHUB_API_TOKEN": "t"}}, "name"),
    ({"name": "x", "env": {"JUPYTERHUB_USER": "a", "JUPYTERHUB_API_TOKEN": "t"},
      "user_options": {"start_id": "../x"}}, "start_id"),
])
def test_malformed_bodies_are_422_and_start_nothing(outpost: OutpostProc, body: Any,
                                                    loc: str) -> None:
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    r = outpost.request("POST", "/services", **kwargs)
    assert r.status_code == 422, r.text
    assert loc in str(r.json()["detail"][0]["loc"])
    assert outpost.request("GET", "/services/").json() == []


@pytest.mark.parametrize("options, message", [
    ({"flavor": "huge"}, "The flavor 'huge' does not exist on this system"),
    ({"flavor": "hubb-only"}, "The flavor 'hubb-only' does not exist on this system"),  # another hub's
    ({"flavor": ""}, "No flavor was chosen"),
    ({"image": "docker.io/library/busybox:latest"}, "not from an allowed registry"),
    ({"image": "10.0.0.1:5000/x:1"}, "not from an allowed registry"),
    ({"image": "local/UPPER:1"}, "not from an allowed registry"),
    ({"storage": {"localstoragepath": "/home/jovyan/../../etc"}}, "normalised"),
    ({"storage": {"localstoragepath": "/home/jovyan"}}, "below /home/jovyan/"),
    ({"storage": {"localstoragepath": "/var/lib"}}, "below /home/jovyan/"),
    ({"storage": {"localstoragepath": "/home/jovyan/a b"}}, "absolute path"),
])
def test_refused_starts_are_419_with_a_clear_message(outpost: OutpostProc,
                                                     options: dict[str, Any],
                                                     message: str) -> None:
    body = start_body(**{k: v for k, v in options.items() if k != "storage"})
    if "storage" in options:
        body["user_options"]["storage"] = options["storage"]
    r = outpost.request("POST", "/services", json=body)
    assert r.status_code == 419, r.text
    err = r.json()
    assert set(err) == {"module", "class", "traceback", "args", "kwargs"}
    assert message in err["args"][0]
    assert outpost.request("GET", "/services/").json() == []
    assert outpost.containers() == []


def test_spawner_that_fails_to_start_leaves_nothing(outpost: OutpostProc) -> None:
    body = start_body(image="local/nfdi-test-outpost-missing:1")  # allowed, but not present
    r = outpost.request("POST", "/services", json=body)
    assert r.status_code == 419
    assert "nfdi-test-outpost-missing" in r.json()["args"][0]
    assert outpost.request("GET", "/services/").json() == []
    assert outpost.containers() == []


def test_limits_max_and_max_per_user(outpost: OutpostProc, api_url: str) -> None:
    assert outpost.request("POST", "/services", json=start_body(
        "big", flavor="large", api_url=api_url)).status_code == 200
    r = outpost.request("POST", "/services",
                        json=start_body("big2", user="bob", user_id="8", flavor="large"))
    assert r.status_code == 419
    assert "All 1 server on 'Large' are in use" in r.json()["args"][0]
    assert r.json()["kwargs"] == {"reason": "flavor_full"}
    assert (r.json()["module"], r.json()["class"]) == ("outpost.flavors.", "FlavorFull")
    for name in ("s1", "s2"):
        assert outpost.request("POST", "/services",
                               json=start_body(name, api_url=api_url)).status_code == 200
    r = outpost.request("POST", "/services", json=start_body("s3"))
    assert r.status_code == 419
    assert "You already run 2 servers on 'Small' (the limit)" in r.json()["args"][0]
    assert r.json()["class"] == "FlavorUserLimit"
    flavors = outpost.request("GET", "/flavors/").json()
    assert flavors["small"]["current"] == 2
    assert flavors["large"]["current"] == 1
    # The same user id on another hub is another user.
    assert outpost.request("POST", "/services", hub="hub-b1",
                           json=start_body("s3", api_url=api_url)).status_code == 200
    # /flavors/ counts the calling hub's servers only (issue 10: not the other hubs')
    assert outpost.request("GET", "/flavors/").json()["small"]["current"] == 2
    assert outpost.request("GET", "/flavors/", hub="hub-b1").json()["small"]["current"] == 1
    for hub, name in (("hub-a", "big"), ("hub-a", "s1"), ("hub-a", "s2"), ("hub-b1", "s3")):
        assert outpost.request("DELETE", f"/services/{name}/s1", hub=hub).status_code == 200
    assert outpost.containers() == []


def test_start_poll_stop_and_hubs_cannot_see_each_other(outpost: OutpostProc,
                                                        api_url: str) -> None:
    body = start_body("srv", api_url=api_url)
    r = outpost.request("POST", "/services", json=body)
    assert r.status_code == 200, r.text
    # The server's API token reaches the container, never the Outpost's disk or log.
    token = body["env"]["JUPYTERHUB_API_TOKEN"]
    for path in outpost.workdir.glob("outpost.sqlite*"):
        assert token.encode() not in path.read_bytes()
    assert token not in outpost.log_tail(1000)
    assert (outpost.workdir / "outpost.sqlite").stat().st_mode & 0o077 == 0
    host, port = r.json()["service"].split(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    (container,) = outpost.containers()
    # Loopback only: host network, the server binds 127.0.0.1.
    env = docker_exec(container, "env")
    assert f"JUPYTERHUB_API_TOKEN={token}" in env
    assert f"JUPYTERHUB_SERVICE_URL=http://127.0.0.1:{port}/user/alice/srv/" in env
    mode = subprocess.run(["docker", "inspect", "-f", "{{.HostConfig.NetworkMode}}", container],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert mode == "host"

    listed = outpost.request("GET", "/services/").json()
    assert [(s["name"], s["start_id"], s["jupyterhub_userid"]) for s in listed] == [
        ("srv", "s1", "7")]
    assert outpost.request("GET", "/services/", hub="hub-b1").json() == []
    assert outpost.request("GET", "/services/srv/s1", hub="hub-b1").status_code == 404
    assert outpost.request("DELETE", "/services/srv/s1", hub="hub-b1").status_code == 404
    assert outpost.containers() == [container]

    assert outpost.request("GET", "/services/srv/s1").json()["status"] is None
    logs = wait_for(lambda: outpost.request("GET", "/services/srv/s1?collect_logs=true")
                    .json()["logs"], 30, "container logs")
    assert any("jupyterhub" in line.lower() or "jupyter" in line.lower() for line in logs)
    r = outpost.request("DELETE", "/services/srv/s1?collect_logs=true")
    assert r.status_code == 200
    assert r.json()["logs"]
    assert outpost.containers() == []
    assert outpost.request("GET", "/services/srv/s1").status_code == 404
    # The user's volume stays for the next launch.
    assert len(outpost.volumes()) == 1


def test_async_start_and_stop(outpost: OutpostProc, api_url: str) -> None:
    r = outpost.request("POST", "/services", json=start_body("bg", api_url=api_url),
                        headers={"execution-type": "async"})
    assert r.status_code == 202
    assert r.json() == {"service": ""}
    assert outpost.request("GET", "/services/bg/s1").json()["status"] is None
    wait_for(lambda: not outpost.request("GET", "/services/").json()[0]["start_pending"],
             60, "the background start to finish")
    assert len(outpost.containers()) == 1
    r = outpost.request("DELETE", "/services/bg/s1", headers={"execution-type": "async"})
    assert r.status_code == 202
    wait_for(lambda: outpost.containers() == [], 60, "the background stop")
    wait_for(lambda: outpost.request("GET", "/services/").json() == [], 10, "record removal")


def test_expired_runtime_is_stopped(outpost_factory: Callable[..., OutpostProc],
                                    api_url: str) -> None:
    flavors = {"flavors": {"short": {"max": -1, "runtime": {"seconds": 2}}}}
    outpost = outpost_factory(flavors=flavors,
                              extra_config="c.OutpostServer.check_interval = 1\n")
    r = outpost.request("POST", "/services",
                        json=start_body("short", flavor="short", api_url=api_url))
    assert r.status_code == 200
    assert outpost.request("GET", "/services/").json()[0]["end_date"]
    wait_for(lambda: outpost.containers() == [], 30, "the expired server to be stopped")
    wait_for(lambda: outpost.request("GET", "/services/").json() == [], 10,
             "the expired server's record to be removed")


def test_async_start_that_fails_is_forgotten(outpost: OutpostProc) -> None:
    body = start_body("bgfail", image="local/nfdi-test-outpost-missing:1")
    r = outpost.request("POST", "/services", json=body, headers={"execution-type": "async"})
    assert r.status_code == 202
    wait_for(lambda: outpost.request("GET", "/services/bgfail/s1").status_code == 404, 30,
             "the failed background start to be forgotten")
    assert outpost.containers() == []
