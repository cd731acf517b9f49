"""Issue 18: failures of the build step on real parts — a Dockerfile that fails, the engine
gone (the builder points at a socket where nothing listens; the shared dockerd is never
touched), the registry stopped (a registry process this module owns)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from builders import BuildManager
from launcher.app import make_app
from launcher.pipeline import Pipeline
from tests.harness.registry import Registry, start_registry
from tests.launcher._client import read_stream, serving
from tests.launcher.e2e import IMAGE_PREFIX
from tests.launcher.failures.checks import assert_final
from tests.launcher.failures.conftest import anonymous_config, spec

pytestmark = [pytest.mark.docker, pytest.mark.registry]


@pytest.fixture(scope="module")
def own_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("fail-registry"))
    yield reg
    reg.stop()


async def launch(builder: BuildManager, path: str) -> list[dict[str, Any]]:
    config = anonymous_config()
    pipeline = Pipeline.from_config(config, builder=builder)
    async with serving(make_app(config, pipeline=pipeline)) as url:
        _code, _h, evs, _c = await read_stream(url + path, timeout=300)
    return evs


async def test_a_failing_dockerfile_is_the_repositorys_to_fix(
        fail_rewrites: None, git_server: Any, tmp_path: Path) -> None:
    builder = BuildManager(image_prefix=IMAGE_PREFIX, state_dir=str(tmp_path / "builds"))
    evs = await launch(builder, "build/git/" + spec(git_server, "build-fails"))
    final = assert_final(evs, "build_failed")
    assert builder.repo2docker_runs == 1
    # the build log stays in the stream, before the failed event
    log = "".join(e.get("message", "") for e in evs[:-1])
    assert "frobnicate: command not found" in log
    assert "repository" in final["message"]


async def test_the_engine_gone_is_the_operators(fail_rewrites: None, git_server: Any,
                                                own_registry: Registry, tmp_path: Path) -> None:
    cfg = Config()
    cfg.DockerExecutor.docker_host = f"unix://{tmp_path / 'nothing-listens.sock'}"
    builder = BuildManager(config=cfg, registry_url=own_registry.url, image_prefix=IMAGE_PREFIX,
                           state_dir=str(tmp_path / "builds"))
    evs = await launch(builder, "build/git/" + spec(git_server, "rees-dockerfile"))
    final = assert_final(evs, "engine_unavailable")
    assert builder.repo2docker_runs == 1  # repo2docker ran once and met no engine
    assert "build service is not available" in final["message"]


async def test_the_registry_stopped_is_the_operators(fail_rewrites: None, git_server: Any,
                                                     own_registry: Registry,
                                                     tmp_path: Path) -> None:
    builder = BuildManager(registry_url=own_registry.url, image_prefix=IMAGE_PREFIX,
                           state_dir=str(tmp_path / "builds"))
    own_registry.stop()
    try:
        evs = await launch(builder, "build/git/" + spec(git_server, "rees-dockerfile"))
    finally:
        own_registry.start()
    final = assert_final(evs, "registry_unavailable")
    assert builder.repo2docker_runs == 0  # the lookup failed: nothing was built
    assert "image registry is not available" in final["message"]


async def test_a_build_over_the_time_limit(fail_rewrites: None, git_server: Any,
                                           tmp_path: Path) -> None:
    cfg = Config()
    cfg.DockerExecutor.build_timeout = 3  # the slow-build scenario sleeps 45 s in a RUN step
    builder = BuildManager(config=cfg, image_prefix=IMAGE_PREFIX, state_dir=str(tmp_path / "builds"))
    evs = await launch(builder, "build/git/" + spec(git_server, "slow-build"))
    final = assert_final(evs, "build_timeout")
    assert "took longer than this launcher allows" in final["message"]
