"""Issue 18: the hand-off and spawn when a service is down or busy, on a real JupyterHub with
the real OutpostSpawner and a real Outpost that this module owns (and stops).

- the Outpost stopped: ``outpost_unavailable``, one start request, no retry;
- the hub stopped: ``hub_unavailable``, no retry;
- the hub busy (``concurrent_spawn_limit`` reached, 429 with ``Retry-After``): the launch
  waits as long as the hub asks, tries again once, and the server starts;
- images the Outpost cannot run (relaunched by digest, as from a receipt): one that is not
  there (``spawn_failed``), one whose server exits at once (``server_failed``), one whose
  server never answers (``spawn_timeout``, tried again once), one from a registry the Outpost
  does not pull from (``misconfigured``); and the launcher's wrong hub token
  (``misconfigured``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builders import BuildManager
from fdo.target import LaunchTarget
from launcher.app import make_app
from launcher.handoff.hubapi import HubApiHandOff
from launcher.pipeline import LaunchContext, LaunchRequest, Pipeline
from tests.harness.hub import Hub, start_hub
from tests.launcher._client import read_stream, serving
from tests.launcher.e2e import IMAGE_PREFIX, launcher_config, make_pipeline
from tests.launcher.failures.checks import assert_final
from tests.launcher.failures.conftest import spec
from tests.outpost.outpost_proc import (
    OutpostProc,
    derived_image,
    hub_snippet,
    make_outpost,
    user_options,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

HOLD_SECONDS = 6  # the "hold" flavor's start timeout: how long a hanging spawn stays pending
RETRY_AFTER = (9, 10)  # the hub's Retry-After range while a spawn is pending
FLAVORS = {"flavors": {"small": {"weight": 10}, "hold": {"weight": 1, "start_timeout": HOLD_SECONDS}}}
SYSTEMS = [{"name": "sys-a", "flavors": [{"name": "small"}, {"name": "hold"}]}]


@pytest.fixture(scope="module")
def outpost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutpostProc]:
    proc = make_outpost(tmp_path_factory.mktemp("fail-outpost"), flavors=FLAVORS, hubs=("hub-a",))
    yield proc
    proc.cleanup()


@pytest.fixture(scope="module")
def hub(outpost: OutpostProc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    # (spawn_throttle_retry_range is no config trait in JupyterHub 5: set through the settings)
    config = hub_snippet(outpost, "hub-a") + (
        "c.JupyterHub.concurrent_spawn_limit = 1\n"
        f"c.JupyterHub.tornado_settings['spawn_throttle_retry_range'] = {RETRY_AFTER!r}\n")
    h = start_hub(tmp_path_factory.mktemp("fail-hub"), config=config, spawner="outpost")
    yield h
    h.stop()


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> BuildManager:
    return BuildManager(image_prefix=IMAGE_PREFIX,
                        state_dir=str(tmp_path_factory.mktemp("fail-builds")))


@pytest.fixture(scope="module")
def hang_image() -> Iterator[str]:
    """An image whose server never answers: a spawn of it stays pending until it times out."""
    tag = derived_image("hang", '["sleep", "600"]')
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def exit_image() -> Iterator[str]:
    """An image whose server exits at once (status 3)."""
    tag = derived_image("exit", '["sh", "-c", "echo no notebook here >&2; exit 3"]')
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


async def launch(hub: Hub, builder: BuildManager, git_server: Any) -> list[dict[str, Any]]:
    config = launcher_config(hub, anonymous=True, systems=SYSTEMS)
    async with serving(make_app(config, pipeline=make_pipeline(config, builder=builder))) as url:
        _c, _h, evs, _n = await read_stream(
            url + "build/git/" + spec(git_server, "rees-dockerfile") + "?system=sys-a&flavor=small",
            timeout=400)
    return evs


def start_failures(hub: Hub) -> int:
    """How many start requests to an Outpost failed so far (the hub's log)."""
    return hub.log_path.read_text(errors="replace").count("Send Request failed")


async def test_the_outpost_stopped(fail_rewrites: None, hub: Hub, outpost: OutpostProc,
                                   builder: BuildManager, git_server: Any) -> None:
    before = start_failures(hub)
    outpost.stop()
    try:
        evs = await launch(hub, builder, git_server)
    finally:
        outpost.start()
    final = assert_final(evs, "outpost_unavailable")
    assert "computing system is not available" in final["message"]
    assert start_failures(hub) - before == 1  # one start request: nothing was retried
    log = "".join(e.get("message", "") for e in evs)
    assert outpost.url not in log and str(outpost.port) not in log


async def test_the_hub_stopped(fail_rewrites: None, outpost: OutpostProc, builder: BuildManager,
                               git_server: Any, tmp_path: Path) -> None:
    own = start_hub(tmp_path / "hub", config=hub_snippet(outpost, "hub-a"), spawner="outpost")
    own.stop()
    evs = await launch(own, builder, git_server)
    final = assert_final(evs, "hub_unavailable")
    assert "JupyterHub is not available" in final["message"]


async def test_a_busy_hub_is_tried_again_after_its_retry_after(
        fail_rewrites: None, hub: Hub, builder: BuildManager, git_server: Any,
        hang_image: str) -> None:
    # the image exists, so the launch reaches the hub at once
    assert assert_ready(await launch(hub, builder, git_server))
    hub.ensure_user("holder")
    r = hub.api("POST", "/users/holder/servers/hold",
                json=user_options(flavor="hold", image=hang_image))
    assert r.status_code in (201, 202), r.text
    evs = await launch(hub, builder, git_server)
    retries = [e["message"] for e in evs if "trying again" in e.get("message", "")]
    assert len(retries) == 1, [e.get("message") for e in evs]
    assert "(hub_busy); trying again in 9 s" in retries[0] or "in 10 s" in retries[0]
    assert assert_ready(evs)


def assert_ready(evs: list[dict[str, Any]]) -> bool:
    assert evs[-1]["phase"] == "ready", evs[-3:]
    return True


async def relaunch(hub: Hub, image: str, flavor: str, token: str = "") -> list[dict[str, Any]]:
    """A launch of *image* as a relaunch by receipt does it: target and image given."""
    launcher = launcher_config(hub, anonymous=True, systems=SYSTEMS)
    if token:
        launcher.config.HubClient.api_token = token
    target = LaunchTarget(identifier="x", kind="git", provider="git",
                          source="https://git.example.org/fail/relaunch", ref="1" * 40,
                          launch_path="v2/git/x/" + "1" * 40)
    request = LaunchRequest("git", "x/" + "1" * 40, system="sys-a", flavor=flavor)
    pipeline = Pipeline(launcher, None, None, HubApiHandOff(launcher))
    pipeline.retry_delay = 1.0
    return [ev async for ev in pipeline.run(request, LaunchContext(request, target=target,
                                                                   image=image))]


@pytest.mark.parametrize("case", ["missing", "exits", "hangs", "foreign", "token"])
async def test_what_the_outpost_cannot_run(hub: Hub, hang_image: str, exit_image: str,
                                           case: str) -> None:
    image, flavor, reason = {
        "missing": ("local/nfdi-test-outpost-missing:1", "small", "spawn_failed"),
        "exits": (exit_image, "small", "server_failed"),
        "hangs": (hang_image, "hold", "spawn_timeout"),
        "foreign": ("quay.io/someone/image:1", "small", "misconfigured"),
        "token": ("local/jupyter-base:6.1.1", "small", "misconfigured"),
    }[case]
    evs = await relaunch(hub, image, flavor, "not-the-token" if case == "token" else "")
    final = assert_final(evs, reason)
    if case == "hangs":  # a timeout may pass: tried once more, then given up
        assert final["attempts"] == 2
        assert sum("trying again" in e.get("message", "") for e in evs) == 1
