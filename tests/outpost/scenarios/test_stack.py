"""``nfdi-launcher stack`` end to end: two systems, persistence across images and restarts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from launcher.systems import launcher_systems
from tests.harness.hub import wait_for
from tests.outpost.outpost_proc import BASE_IMAGE, user_options

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

VENV_BIN = Path(sys.executable).parent


@dataclass
class Stack:
    state: Path
    proc: subprocess.Popen[bytes]
    url: str
    output: Path

    @property
    def token(self) -> str:
        return (self.state / "launcher-token").read_text().strip()

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + "hub/api" + path, timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **kwargs)

    def lab(self, path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url.rstrip("/") + path, timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **kwargs)

    def containers(self) -> list[str]:
        prefix = (self.state / "name-prefix").read_text().strip()
        out = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{prefix}"],
                             capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.split()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=120)


def start_stack(state: Path) -> Stack:
    output = state.parent / f"stack-{len(list(state.parent.glob('stack-*.out')))}.out"
    with output.open("wb") as out:
        proc = subprocess.Popen([str(VENV_BIN / "nfdi-launcher"), "stack", "--port", "0",
                                 "--state-dir", str(state)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"})

    def up() -> str | None:
        if proc.poll() is not None:
            raise RuntimeError(f"stack exited {proc.returncode}:\n{output.read_text()}")
        m = re.search(r"stack is up: (http://127\.0\.0\.1:\d+/)", output.read_text())
        return m.group(1) if m else None

    return Stack(state=state, proc=proc, url=wait_for(up, 150, "the stack"), output=output)


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    yield state
    prefix_file = state / "name-prefix"
    if prefix_file.exists():
        prefix = prefix_file.read_text().strip()
        for kind in ("container", "volume"):
            ls = ["docker", "ps", "-aq"] if kind == "container" else ["docker", "volume", "ls", "-q"]
            out = subprocess.run([*ls, "--filter", f"name=^{prefix}"], capture_output=True,
                                 text=True, timeout=30).stdout.split()
            if out:
                rm = ["docker", "rm", "-f"] if kind == "container" else ["docker", "volume", "rm"]
                subprocess.run([*rm, *out], capture_output=True, timeout=60)


def _launch(stack: Stack, server: str, options: dict[str, Any]) -> str:
    r = stack.api("POST", f"/users/alice/servers/{server}", json=options)
    assert r.status_code in (201, 202), r.text

    def ready() -> str | None:
        srv = stack.api("GET", "/users/alice").json()["servers"].get(server)
        if srv is None:
            raise RuntimeError("spawn failed; see " + str(stack.state / "jupyterhub.log"))
        return srv["url"] if srv.get("ready") else None

    return str(wait_for(ready, 120, f"server {server}"))


def _stop(stack: Stack, server: str) -> None:
    stack.api("DELETE", f"/users/alice/servers/{server}", json={"remove": True})
    wait_for(lambda: server not in stack.api("GET", "/users/alice").json()["servers"], 60,
             f"server {server} to stop")


def _files(stack: Stack, url: str) -> list[str]:
    r = stack.lab(url + "api/contents/work")
    assert r.status_code == 200, r.text
    return sorted(item["name"] for item in r.json()["content"])


def test_stack_two_systems_and_user_files_survive_images_and_restarts(
        stack_dir: Path, alt_image: str) -> None:
    stack = start_stack(stack_dir)
    try:
        # The launcher is a hub service; the form's systems/flavors come from the Outpost.
        assert "services/launcher/" in stack.output.read_text()
        systems = {s["name"]: [f["name"] for f in s["flavors"]]
                   for s in launcher_systems(stack_dir / "systems.json")}
        assert systems == {"local-small": ["medium", "small"], "local-large": ["large", "medium"]}
        assert stack.api("POST", "/users/alice").status_code in (201, 409)

        # A flavor of the other system is refused, nothing runs.
        r = stack.api("POST", "/users/alice/servers/bad",
                      json=user_options(system="local-small", flavor="large"))
        assert r.status_code in (201, 202)
        wait_for(lambda: not (stack.api("GET", "/users/alice").json()["servers"]
                              .get("bad") or {}).get("pending"), 60, "refused spawn to end")
        assert stack.containers() == []

        for cycle, image in enumerate([BASE_IMAGE, alt_image]):
            url = _launch(stack, f"repo{cycle}", user_options(system="local-small",
                                                              flavor="small", image=image))
            assert _files(stack, url) == [f"cycle-{i}.txt" for i in range(cycle)]
            put = stack.lab(url + f"api/contents/work/cycle-{cycle}.txt", "PUT",
                            json={"type": "file", "format": "text", "content": f"c{cycle}"})
            assert put.status_code in (200, 201), put.text
            _stop(stack, f"repo{cycle}")
        url = _launch(stack, "big", user_options(system="local-large", flavor="large"))
        assert _files(stack, url) == []  # another system: its own storage
        assert len(stack.containers()) == 1
    finally:
        stack.stop()
    # Ctrl-C stopped the servers and every process of the stack.
    assert stack.proc.returncode == 0, stack.output.read_text()
    assert stack.containers() == []
    assert "stopped outpost" in stack.output.read_text()

    # A new stack (new Outpost, new hub) on the same state: the files are still there.
    stack = start_stack(stack_dir)
    try:
        url = _launch(stack, "again", user_options(system="local-small", flavor="medium"))
        assert _files(stack, url) == ["cycle-0.txt", "cycle-1.txt"]
        r = stack.lab(url + "api/contents/work/cycle-0.txt")
        assert json.loads(r.text)["content"] == "c0"
    finally:
        stack.stop()
    assert stack.containers() == []


PUBLIC_REPO = "https://git.example.org/rees-dockerfile"
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, "
                  "application/vnd.oci.image.manifest.v1+json")


def _seeded_layers(stack: Stack) -> list[str]:
    """The base image's layers in the stack's registry, checked against the local image;
    returns their digests."""
    text = stack.output.read_text()
    registry = re.search(r"registry: (http://127\.0\.0\.1:\d+)", text)
    seed = re.search(rf"registry holds {re.escape(BASE_IMAGE)} as 127\.0\.0\.1:\d+/(\S+):(\S+) ",
                     text)
    assert registry and seed, text
    base = f"{registry.group(1)}/v2/{seed.group(1)}"
    r = requests.get(f"{base}/manifests/{seed.group(2)}", headers={"Accept": MANIFEST_TYPES},
                     timeout=30)
    assert r.status_code == 200, r.text
    manifest = r.json()
    config = requests.get(f"{base}/blobs/{manifest['config']['digest']}", timeout=30).json()
    local = subprocess.run(["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}",
                            BASE_IMAGE], capture_output=True, text=True, check=True, timeout=60)
    assert config["rootfs"]["diff_ids"] == json.loads(local.stdout)
    layers = [layer["digest"] for layer in manifest["layers"]]
    for digest in layers:
        assert requests.head(f"{base}/blobs/{digest}", timeout=30).status_code == 200
    return layers


def _build_stream(stack: Stack, spec: str, token: str, system: str,
                  flavor: str, provider: str = "git", timeout: float = 300,
                  ) -> list[dict[str, Any]]:
    """Follow the launcher's BinderHub-style event stream until ready or failed
    (at most *timeout* seconds: events or keepalives arrive at least every 25 s)."""
    events: list[dict[str, Any]] = []
    url = (f"{stack.url}services/launcher/build/{provider}/{spec}"
           f"?system={system}&flavor={flavor}")
    deadline = time.monotonic() + timeout
    with requests.get(url, stream=True, timeout=timeout,
                      headers={"Authorization": f"token {token}",
                               "Accept": "text/event-stream"}) as r:
        assert r.status_code == 200, r.text
        for raw in r.iter_lines(decode_unicode=True):
            assert time.monotonic() < deadline, \
                f"no ready/failed event within {timeout:.0f} s; last: {events[-3:]}"
            if raw and raw.startswith("data:"):
                event = json.loads(raw[5:])
                events.append(event)
                if event.get("phase") in ("ready", "failed"):
                    break
    return events


def test_launch_through_the_launcher_builds_and_keeps_user_files(
        stack_dir: Path, git_server: Any) -> None:
    """Git URL → build (repo2docker, pushed to the stack's registry) → launch on the chosen
    system and flavor through the Outpost → write under ~/work → another commit → file kept."""
    rewrites = git_server.rewrite(PUBLIC_REPO, "rees-dockerfile")
    os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(rewrites)
    try:
        stack = start_stack(stack_dir)
    finally:
        del os.environ["NFDI_LAUNCHER_URL_REWRITES"]
    try:
        # The fresh stack's registry held the base image when the URL was printed ...
        base_layers = _seeded_layers(stack)
        assert stack.api("POST", "/users/alice").status_code in (201, 409)
        token = stack.api("POST", "/users/alice/tokens", json={"note": "test"}).json()["token"]
        seen: list[str] = []
        for rev in ("refs/tags/v1.0^{}", "refs/tags/v1.1^{}"):
            sha = git_server.sha("rees-dockerfile", rev)
            spec = f"{quote(PUBLIC_REPO, safe='')}/{sha}"
            events = _build_stream(stack, spec, token, "local-small", "small")
            ready = events[-1]
            assert ready.get("phase") == "ready", events[-3:]
            assert ready["image"].startswith("127.0.0.1:")  # from the stack's registry
            server_url = ready["url"].split("?")[0].rstrip("/") + "/"
            auth = {"Authorization": f"token {ready['token']}"}
            listing = requests.get(server_url + "api/contents/work", headers=auth, timeout=30)
            assert listing.status_code == 200, listing.text
            assert sorted(i["name"] for i in listing.json()["content"]) == seen
            name = f"from-{sha[:7]}.txt"
            put = requests.put(server_url + f"api/contents/work/{name}", headers=auth,
                               json={"type": "file", "format": "text", "content": sha},
                               timeout=30)
            assert put.status_code in (200, 201), put.text
            seen = sorted([*seen, name])
            server = server_url.rstrip("/").rsplit("/", 1)[-1]
            _stop(stack, server)
        # ... so no build uploaded a base layer: builds mount them from the seed repository.
        uploads = [line for line in (stack_dir / "registry.log").read_text().splitlines()
                   if ('"PUT ' in line or '"PATCH ' in line) and "/nfdi-launcher/seed/" not in line]
        assert uploads  # the builds' own layers
        for digest in base_layers:
            assert not [line for line in uploads if digest.split(":")[1] in line], digest
        assert stack.containers() == []
    finally:
        stack.stop()
    assert stack.containers() == []
