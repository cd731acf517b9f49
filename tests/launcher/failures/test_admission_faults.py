"""Issue 18: refusals before anything is built — a resolve refusal (the real resolver's
network policy), the launcher's quota (a second launch while the first one builds), the
rate limit, a banned spec, an unknown flavor, a bad storage path, no login."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from traitlets.config import Config

from builders import BuildManager
from launcher import events
from launcher.app import make_app
from launcher.pipeline import Pipeline
from tests.launcher._client import read_stream, serving
from tests.launcher.e2e import IMAGE_PREFIX
from tests.launcher.failures.checks import assert_final
from tests.launcher.failures.conftest import anonymous_config, spec

SYSTEMS = [{"name": "cloud", "flavors": [{"name": "small"}, {"name": "large"}]}]


async def stream(path: str, cfg: Config | None = None, **kw: Any) -> list[dict[str, Any]]:
    config = anonymous_config(cfg, systems=SYSTEMS, **kw)
    async with serving(make_app(config)) as url:
        _code, _h, evs, _c = await read_stream(url + path, timeout=120)
    return evs


async def test_a_resolve_refusal(fail_rewrites: None) -> None:
    """A Git URL on this machine: the resolver's policy refuses it before any request."""
    evs = await stream("build/git/" + quote("https://127.0.0.1:1/private.git", safe="") + "/HEAD")
    final = assert_final(evs, "resolve_refused")
    assert "public repository" in final["message"]


@pytest.mark.parametrize("where, reason", [
    ("missing", "not_found"),  # the git server has no such repository
    ("down", "upstream_unavailable"),  # the forge does not answer (after fdo's retries)
])
async def test_the_repository_is_not_there_or_its_host_is_down(
        git_server: Any, monkeypatch: pytest.MonkeyPatch, where: str, reason: str) -> None:
    public = f"https://git.example.org/fail/{where}"
    target = f"{git_server.url}/missing.git" if where == "missing" else "http://127.0.0.1:1/down.git"
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps({public: target}))
    evs = await stream("build/git/" + quote(public, safe="") + "/HEAD")
    assert_final(evs, reason)


async def test_an_identifier_that_cannot_be_launched() -> None:
    swhid = "swh:1:cnt:" + "94a9ed024d3859793618152ea559a168bbcbb5e2"
    evs = await stream("build/swhid/" + quote(swhid, safe=""))
    final = assert_final(evs, "identifier_unsupported")
    assert "is a single file (cnt), which cannot be launched" in final["message"]


@pytest.mark.parametrize("path, cfg, reason", [
    ("build/gh/org/repo/HEAD?flavor=huge", {}, "flavor_unknown"),
    ("build/gh/org/repo/HEAD?system=mars", {}, "flavor_unknown"),
    ("build/gh/org/repo/HEAD?localstoragepath=../../etc", {}, "storage_path"),
    ("build/gh/evil/repo/HEAD", {"banned_specs": ["^gh/evil/"]}, "launch_not_allowed"),
    ("build/gh/org/repo/HEAD", {"anonymous": False}, "login_required"),
    ("build/nope/org/repo/HEAD", {}, "identifier_invalid"),
])
async def test_refusals_at_the_door(path: str, cfg: dict[str, Any], reason: str) -> None:
    config = Config()
    config.Admission.banned_specs = cfg.get("banned_specs", [])
    evs = await stream(path, config, **({"anonymous": False} if "anonymous" in cfg else {}))
    assert_final(evs, reason)
    assert len(evs) == 1  # refused before resolving


async def test_the_rate_limit_says_when_to_come_back() -> None:
    cfg = Config()
    cfg.Admission.rate_limit = 1
    config = anonymous_config(cfg, systems=SYSTEMS)
    refused = "build/git/" + quote("https://127.0.0.1:1/private.git", safe="") + "/HEAD"
    async with serving(make_app(config)) as url:
        first = (await read_stream(url + refused, timeout=30))[2]
        assert first[-1]["reason"] == "resolve_refused"  # counted, then refused: no request out
        _c, headers, evs, _n = await read_stream(url + refused, timeout=30)
    final = assert_final(evs, "rate_limited")
    assert 0 < final["retry_after"] <= 3600
    assert {k.lower(): v for k, v in headers.items()}["x-ratelimit-remaining"] == "0"


async def _until_building(url: str, sink: list[dict[str, Any]], building: asyncio.Event) -> None:
    """Follow a launch stream, noting when its build runs (its events go to *sink*)."""
    def seen(evs: list[dict[str, Any]]) -> None:
        sink.extend(evs)
        if any(e.get("phase") == "building" for e in evs):
            building.set()

    from tornado.httpclient import AsyncHTTPClient, HTTPRequest

    def on_chunk(chunk: bytes) -> None:
        seen(events.parse_stream(chunk.decode())[0])

    client = AsyncHTTPClient(force_instance=True)
    try:
        await client.fetch(HTTPRequest(url, headers={"Accept": "text/event-stream"},
                                       streaming_callback=on_chunk, request_timeout=300),
                           raise_error=False)
    finally:
        client.close()


@pytest.mark.docker
async def test_a_second_launch_over_the_quota(fail_rewrites: None, git_server: Any,
                                              tmp_path: Path) -> None:
    """One launch per person at a time: the second is refused while the first builds."""
    cfg = Config()
    cfg.Admission.per_user_quota = 1
    config = anonymous_config(cfg)
    builder = BuildManager(image_prefix=IMAGE_PREFIX, state_dir=str(tmp_path / "builds"))
    app = make_app(config, pipeline=Pipeline.from_config(config, builder=builder))
    first: list[dict[str, Any]] = []
    building = asyncio.Event()
    try:
        async with serving(app) as url:
            task = asyncio.ensure_future(
                _until_building(url + "build/git/" + spec(git_server, "slow-build"), first, building))
            await asyncio.wait_for(building.wait(), 120)
            _c, _h, evs, _n = await read_stream(
                url + "build/git/" + spec(git_server, "rees-dockerfile"), timeout=60)
            task.cancel()
    finally:
        await builder.close()  # stops the slow build
    final = assert_final(evs, "quota_exceeded")
    assert "in progress" in final["message"]
    assert not any(e.get("phase") == "failed" for e in first)
