"""End to end on a real JupyterHub + CHP + DockerSpawner, images built by ``builders``.

The scenario repository ``rees-dockerfile`` (a Dockerfile on local/jupyter-base) is served
by the local git smart-HTTP server under the public-looking URL
``https://git.example.org/rees-dockerfile`` (operator URL rewrite). Every stream is
checked against BinderHub's grammar; the launched server must answer ``/api/status``
through the proxy with the token from the ``ready`` event.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from traitlets.config import Config

from builders import BuildManager
from fdo.resolve import Resolution
from launcher import events
from launcher.app import make_app
from launcher.config import LauncherConfig
from launcher.handoff.hubapi import HubApiHandOff
from launcher.pipeline import LaunchContext, LaunchRequest, Pipeline
from tests.launcher._client import body_json, get, read_stream, serving
from tests.launcher.e2e import (
    HUB_EXTRA_CONFIG,
    IMAGE_PREFIX,
    launcher_config,
    make_pipeline,
    no_rate_limit,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

PUBLIC = "https://git.example.org/rees-dockerfile"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.harness.hub import start_hub

    h = start_hub(tmp_path_factory.mktemp("launch-hub"), config=HUB_EXTRA_CONFIG)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def rewrites(git_server: Any) -> Iterator[None]:
    old = os.environ.get("NFDI_LAUNCHER_URL_REWRITES")
    os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(git_server.rewrite(PUBLIC, "rees-dockerfile"))
    yield
    if old is None:
        os.environ.pop("NFDI_LAUNCHER_URL_REWRITES", None)
    else:
        os.environ["NFDI_LAUNCHER_URL_REWRITES"] = old


@pytest.fixture(scope="module")
def builder(rewrites: None, tmp_path_factory: pytest.TempPathFactory) -> BuildManager:
    return BuildManager(image_prefix=IMAGE_PREFIX, state_dir=str(tmp_path_factory.mktemp("builds")))


def spec_for(git_server: Any, rev: str = "refs/tags/v1.1^{}") -> str:
    return f"{quote(PUBLIC, safe='')}/{git_server.sha('rees-dockerfile', rev)}"


def pipeline_for(config: LauncherConfig, builder: BuildManager) -> Pipeline:
    return make_pipeline(config, builder=builder)


async def assert_server_answers(ready: dict[str, Any]) -> None:
    status = await get(ready["url"] + "api/status", headers={"Authorization": f"token {ready['token']}"})
    assert status.code == 200, status.body[:300]
    assert "started" in body_json(status)
    # what a browser gets when the loading page redirects it to <url>lab?token=...
    lab = await get(ready["url"] + "lab?token=" + ready["token"], headers={"Sec-Fetch-Mode": "navigate"})
    assert lab.code == 200, (lab.code, lab.headers.get("Location"))
    assert b"JupyterLab" in lab.body
    anonymous = await get(ready["url"] + "api/status")
    assert anonymous.code in (302, 403)


async def test_build_and_launch_stream(hub: Any, builder: BuildManager, git_server: Any) -> None:
    config = launcher_config(hub)
    async with serving(make_app(config, pipeline=pipeline_for(config, builder))) as url:
        code, headers, evs, _c = await read_stream(url + "build/git/" + spec_for(git_server), timeout=400)
    assert code == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert events.validate_stream(evs) == [], evs[-3:]
    ready = evs[-1]
    assert ready["phase"] == "ready", ready
    assert ready["image"].startswith(IMAGE_PREFIX)
    assert ready["repo_url"] == PUBLIC
    assert ready["binder_request"] == "v2/git/" + spec_for(git_server)
    assert ready["binder_persistent_request"] == ready["target"]["launch_path"]
    assert ready["binder_client_ip"] == "127.0.0.1"
    assert ready["binder_launch_host"] == url
    assert any(e.get("target") for e in evs if e.get("phase") == "waiting")  # resolved target shown early
    launching = [e["message"] for e in evs if e.get("phase") == "launching"]
    assert launching[0] == "Launching server...\n"
    assert any("ready" in m.lower() for m in launching[1:])
    await assert_server_answers(ready)
    user = hub.api("GET", f"/users/{ready['user']}").json()
    options = user["servers"][ready["server_name"]]["user_options"]
    assert options["custom"]["customimage"] == ready["image"] == options["image"]
    assert options["service"] == "jupyterlab"
    assert options["option"] == "custom"
    assert options["repo2docker"]["reporef"] == ready["target"]["ref"]

    # the same request again: the image is found, nothing is built
    async with serving(make_app(config, pipeline=pipeline_for(config, builder))) as url:
        _code, _h, again, _c = await read_stream(url + "build/git/" + spec_for(git_server), timeout=200)
        metrics = (await get(url + "metrics")).body.decode()
    launches = [line for line in metrics.splitlines()
                if line.startswith("binderhub_launch_count_total{") and 'status="success"' in line
                and f'repo="{PUBLIC}"' in line]
    assert launches
    assert float(launches[0].rsplit(" ", 1)[1]) >= 2
    assert events.validate_stream(again) == [], again[-3:]
    assert not any(e.get("phase") == "building" for e in again)
    built = [e for e in again if e.get("phase") == "built"]
    assert built[0]["message"] == "Found built image, launching...\n"
    assert again[-1]["image"] == ready["image"]  # new temporary user
    assert again[-1]["url"] != ready["url"]
    await assert_server_answers(again[-1])


async def test_build_only_and_json_api(hub: Any, builder: BuildManager, git_server: Any) -> None:
    config = launcher_config(hub)
    async with serving(make_app(config, pipeline=pipeline_for(config, builder))) as url:
        _code, _h, evs, _c = await read_stream(url + "build/git/" + spec_for(git_server) + "?build_only=true")
        assert events.validate_stream(evs, build_only=True) == [], evs[-3:]
        assert evs[-1]["imageName"].startswith(IMAGE_PREFIX)
        ident = f"{PUBLIC}@{git_server.sha('rees-dockerfile', 'refs/tags/v1.1^{}')}"
        resolved = body_json(await get(url + "api/v1/resolve?id=" + quote("git/" + spec_for(git_server), safe="")))
        assert resolved["source"] == PUBLIC
        assert resolved["launch_url"].startswith(url + "v2/git/")
        r = await get(url + "api/v1/builds", method="POST", body=json.dumps({"id": "git/" + spec_for(git_server)}))
        assert r.code == 202, r.body
        job_url = url.rstrip("/") + r.headers["Location"].replace(config.base_url.rstrip("/"), "", 1)
        for _ in range(300):
            job = body_json(await get(job_url))
            if job["status"] != "running":
                break
            await asyncio.sleep(0.2)
        assert job["status"] == "ready", job
        assert job["result"]["imageName"] == evs[-1]["imageName"], job
        assert ident  # the pinned identifier form is accepted by fdo too
        launch = await get(url + "launch?id=" + quote("git/" + spec_for(git_server), safe="") + "&labpath=index.ipynb")
        assert launch.code == 302
        assert launch.headers["Location"] == config.base_url + resolved["launch_path"] + "?labpath=index.ipynb"


async def test_repeated_launch_reuses_the_users_server(hub: Any, builder: BuildManager, git_server: Any) -> None:
    """A logged-in user launching the same target on the same resource gets the same server."""
    config = launcher_config(hub)
    target = await asyncio.to_thread(Resolution().resolve, "git/" + spec_for(git_server))
    image = ""
    async for ev in builder.build(target):
        image = ev.image or image
    hub.ensure_user("alice")
    handoff = HubApiHandOff(config)
    results = []
    for _ in range(2):
        ctx = LaunchContext(LaunchRequest("git", spec_for(git_server), user="alice", system="local",
                                          flavor="default"), target=target, image=image)
        results.append([ev async for ev in handoff.launch(ctx)])
    first, second = results[0][-1], results[1][-1]
    assert first["url"] == second["url"]
    assert first["url"].startswith(hub.url + "user/alice/")
    assert any("Reusing running server" in e["message"] for e in results[1])
    assert first["token"] != second["token"]
    await assert_server_answers(second)


def _silent_server() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, sock.getsockname()[1]


@pytest.mark.parametrize("kind", ["down", "slow"])
async def test_unreachable_or_slow_hub_is_a_clear_failed_event(kind: str, builder: BuildManager,
                                                               git_server: Any, tmp_path: Path) -> None:
    sock, port = _silent_server()  # "slow": accepts and never answers
    if kind == "down":
        sock.close()
    try:
        cfg = no_rate_limit()
        cfg.HubClient = Config(api_token="x", request_timeout=1.0, retries=1, retry_delay=0.1)
        config = LauncherConfig(config=cfg, hub_url=f"http://127.0.0.1:{port}/",
                                keepalive_interval=0.25)
        async with serving(make_app(config, pipeline=pipeline_for(config, builder))) as url:
            code, _h, evs, comments = await read_stream(url + "build/git/" + spec_for(git_server), timeout=300)
    finally:
        sock.close()
    assert code == 200, evs[-3:]
    assert events.validate_stream(evs) == [], evs[-3:]
    failed = evs[-1]
    assert failed["phase"] == "failed"
    assert failed["status_code"] == 503
    assert "JupyterHub is not available right now" in failed["message"] or kind == "slow"
    assert str(port) not in failed["message"] and "127.0.0.1" not in failed["message"]
    assert "Traceback" not in json.dumps(evs)
    assert "token" not in failed["message"].lower()
    retried = [e for e in evs if "trying again" in e.get("message", "")]
    if kind == "down":  # down is the operator's to fix: one attempt, no retry
        assert (failed["reason"], failed["attempts"], retried) == ("hub_unavailable", 1, [])
    if kind == "slow":  # a timeout may pass: tried again once, then given up
        assert (failed["reason"], failed["attempts"], len(retried)) == ("hub_busy", 2, 1)
        assert comments >= 3  # parked on the hub: the stream kept alive with comments


async def test_start_url_handoff_points_the_browser_at_the_hubs_start_api(builder: BuildManager,
                                                                           git_server: Any) -> None:
    """Jupyter-JSC hubs start servers themselves: ready.url is their /hub/api/start link.

    The hub URL is never contacted (the browser follows the link), so no hub runs here.
    """
    from urllib.parse import parse_qs, urlparse

    config = LauncherConfig(config=no_rate_limit(), hub_url="https://hub.nfdi-jupyter.de/",
                            handoff_class="start-url",
                            systems=[{"name": "JSC-Cloud", "flavors": [{"name": "m1"}]}])
    async with serving(make_app(config, pipeline=Pipeline.from_config(config, builder=builder))) as url:
        _code, _h, evs, _c = await read_stream(url + "build/git/" + spec_for(git_server) + "?name=demo", timeout=300)
    assert events.validate_stream(evs) == [], evs[-3:]
    ready = evs[-1]
    assert ready["handoff"] == "start-url"
    assert ready["redirect"] is True
    assert ready["token"] == ""
    link = urlparse(ready["url"])
    assert (link.scheme, link.netloc, link.path) == ("https", "hub.nfdi-jupyter.de", "/hub/api/start")
    assert parse_qs(link.query) == {
        "service": ["jupyterlab"], "option": ["custom"], "custom.customimage": [ready["image"]],
        "system": ["JSC-Cloud"], "flavor": ["m1"], "name": ["demo"],
        "storage.localstoragepath": ["/home/jovyan/work"]}


async def test_anonymous_user_pool(hub: Any, git_server: Any) -> None:
    """Temporary users are created ahead of time, handed out once, and cleaned up on close."""
    from fdo.target import LaunchTarget

    config = launcher_config(hub, handoff={"anonymous_user_pool": 2})
    handoff = HubApiHandOff(config)
    target = LaunchTarget(identifier="x", kind="git", provider="git", source=PUBLIC, ref="0" * 40,
                          launch_path="v2/git/x/" + "0" * 40)
    ctx = LaunchContext(LaunchRequest("git", "x"), target=target)
    first = await handoff.ensure_user(ctx)
    assert first.startswith("rees-dockerfile-")  # pool still empty: created on demand
    assert handoff._refilling is not None
    await asyncio.wait_for(handoff._refilling, 30)
    pooled = list(handoff._pool)
    assert len(pooled) == 2
    assert all(n.startswith("anon-") for n in pooled)
    second = await handoff.ensure_user(ctx)
    assert second in pooled
    assert hub.api("GET", f"/users/{second}").status_code == 200
    await asyncio.wait_for(handoff._refilling, 30)
    remaining = list(handoff._pool)
    await handoff.close()
    for name in remaining:
        assert hub.api("GET", f"/users/{name}").status_code == 404


async def test_ambiguous_ref_gives_choices_not_a_guess(git_server: Any, builder: BuildManager) -> None:
    """Branch and tag both named v2: /launch answers 300 with choices, /build fails with 409."""
    amb = "https://git.example.org/ambiguous-ref"
    old = os.environ["NFDI_LAUNCHER_URL_REWRITES"]
    os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(
        {**json.loads(old), **git_server.rewrite(amb, "ambiguous-ref")})
    try:
        config = LauncherConfig(config=no_rate_limit(), hub_url="http://127.0.0.1:9/")
        async with serving(make_app(config, pipeline=Pipeline.from_config(config, builder=builder))) as url:
            r = await get(url + "launch?id=" + quote(f"git/{quote(amb, safe='')}/v2", safe=""))
            _code, _h, evs, _c = await read_stream(url + f"build/git/{quote(amb, safe='')}/v2", timeout=60)
    finally:
        os.environ["NFDI_LAUNCHER_URL_REWRITES"] = old
    assert r.code == 300, r.body
    choices = body_json(r)["choices"]
    assert len(choices) >= 2
    assert all(c["launch"].startswith("/launch?id=") for c in choices)
    failed = evs[-1]
    assert failed["phase"] == "failed"
    assert failed["status_code"] == 409
    assert failed["reason"] == "ambiguous"
    assert len(failed["choices"]) >= 2
    assert "several versions" in failed["message"]
