"""Real builds: repo2docker + buildx + registry. Built once, found again, shared."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY

from builders import BuildManager, Phase
from builders.metrics import OUTCOMES
from builders.registry import ACCEPT
from tests.builders.conftest import collect, make_repo, target_for
from tests.harness.registry import Registry

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def outcomes() -> dict[str, float]:
    """The builder's Prometheus counter, by outcome (this process)."""
    return {outcome: REGISTRY.get_sample_value("nfdi_builder_image_requests_total",
                                               {"outcome": outcome}) or 0.0
            for outcome in OUTCOMES}


async def test_build_push_then_found_without_rebuild(
    manager_factory: Callable[..., BuildManager], registry: Registry, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    manager = manager_factory()
    before = outcomes()
    events = await collect(manager.build(target_for("first"), context_dir=repo))
    last = events[-1]
    assert last.phase is Phase.BUILT, [e.message for e in events[-5:]]
    assert not last.cached, [e.message for e in events[-5:]]
    assert events[0].phase is Phase.WAITING
    assert any(e.phase is Phase.BUILDING for e in events)
    assert manager.repo2docker_runs == 1
    assert last.image is not None
    name, _, digest = last.image.partition("@")
    assert name.startswith(f"{registry.host}/nfdi-test-builders-")
    repo_name, _, tag = name[len(registry.host) + 1 :].rpartition(":")
    r = requests.head(f"{registry.url}/v2/{repo_name}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == digest

    # a second request, and a fresh manager (another launcher process): no second build
    again = await collect(manager.build(target_for("first"), context_dir=repo))
    fresh = manager_factory()
    other = await collect(fresh.build(target_for("first"), context_dir=repo))
    for evs in (again, other):
        assert evs[-1].phase is Phase.BUILT
        assert evs[-1].cached
        assert evs[-1].image == last.image
    assert manager.repo2docker_runs == 1
    assert fresh.repo2docker_runs == 0
    # what /metrics reports: one build, two requests served from the registry
    after = outcomes()
    assert after["built"] - before["built"] == 1
    assert after["cached"] - before["cached"] == 2

    # another identifier (a DOI of the same release), same tree: same content, no build
    doi = await collect(fresh.build(target_for("doi-of-first", provider="zenodo"), context_dir=repo))
    assert doi[-1].phase is Phase.BUILT, doi[-1].message
    assert doi[-1].cached, doi[-1].message
    assert doi[-1].image is not None
    assert doi[-1].image.endswith(digest)
    assert fresh.repo2docker_runs == 0


async def test_concurrent_requests_share_one_build_and_survive_disconnects(
    manager_factory: Callable[..., BuildManager], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 2\n")
    manager = manager_factory()
    target = target_for("shared")

    async def quitter() -> None:  # a browser that goes away after the first events
        async for event in manager.build(target, context_dir=repo):
            if event.phase is Phase.BUILDING:
                return

    stayers = [asyncio.create_task(collect(manager.build(target, context_dir=repo))) for _ in range(4)]
    await quitter()
    late = await collect(manager.build(target, context_dir=repo))  # joins while building
    results = await asyncio.gather(*stayers)
    assert manager.repo2docker_runs == 1
    images = {evs[-1].image for evs in [*results, late]}
    assert len(images) == 1
    assert None not in images
    assert all(evs[-1].phase is Phase.BUILT for evs in [*results, late])
    # the late joiner got the whole log from the start
    assert late[0].phase is Phase.WAITING
    assert any(e.phase is Phase.BUILDING for e in late)
    assert [e.message for e in late] == [e.message for e in results[0]]


async def test_build_slots_queue_further_builds(
    manager_factory: Callable[..., BuildManager], tmp_path: Path
) -> None:
    manager = manager_factory(max_concurrent_builds=1)
    repos = [make_repo(tmp_path / f"repo{i}", steps="RUN sleep 1\n") for i in range(2)]
    results = await asyncio.gather(
        *(collect(manager.build(target_for(f"queued{i}"), context_dir=r)) for i, r in enumerate(repos))
    )
    assert all(evs[-1].phase is Phase.BUILT for evs in results)
    waited = [any("Waiting for a free build slot" in e.message for e in evs) for evs in results]
    assert sorted(waited) == [False, True]
    assert manager.repo2docker_runs == 2


async def test_unfetchable_target_fails_readably(manager_factory: Callable[..., BuildManager]) -> None:
    from fdo.target import LaunchTarget

    target = LaunchTarget(identifier="git/nowhere", kind="git", provider="git",
                          source="http://127.0.0.1:9/nfdi-test-builders/nowhere.git", ref="1" * 40,
                          launch_path="v2/git/nowhere")
    manager = manager_factory()
    events = await collect(manager.build(target))
    assert [e.phase for e in events[:2]] == [Phase.WAITING, Phase.FETCHING]
    assert events[-1].phase is Phase.FAILED
    assert events[-1].message.startswith("Fetching failed: ")
    assert events[-1].to_json()["status_code"] >= 400
    assert manager.repo2docker_runs == 0
    assert not list((Path(manager.state_dir) / "work").iterdir())  # fetch dir removed


async def test_without_registry_the_local_engine_store_is_used(
    manager_factory: Callable[..., BuildManager], tmp_path: Path
) -> None:
    import docker

    repo = make_repo(tmp_path / "repo")
    manager = manager_factory(registry_url="")
    first = await collect(manager.build(target_for("local-only"), context_dir=repo))
    assert first[-1].phase is Phase.BUILT, first[-1].message
    assert not first[-1].cached, first[-1].message
    image = first[-1].image
    assert image is not None
    assert "@" not in image
    assert image.startswith("nfdi-test-builders-")
    client = docker.from_env()
    try:
        assert client.images.get(image).labels["org.opencontainers.image.source"].endswith("local-only")
    finally:
        client.close()
    same_content = await collect(manager.build(target_for("local-doi", "zenodo"), context_dir=repo))
    assert same_content[-1].cached
    assert same_content[-1].phase is Phase.BUILT
    assert manager.repo2docker_runs == 1


async def test_push_to_registry_with_basic_auth_from_docker_config(
    manager_factory: Callable[..., BuildManager], auth_registry: Registry, tmp_path: Path
) -> None:
    """Credentials from a Docker config.json reach repo2docker's push (DOCKER_CONFIG unset)."""
    import base64
    import json

    cfg = tmp_path / "docker-config.json"
    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    cfg.write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    repo = make_repo(tmp_path / "repo", base="scratch")  # tiny: this test is about the push
    manager = manager_factory(registry_url=auth_registry.url, docker_config_path=str(cfg))
    events = await collect(manager.build(target_for("with-auth"), context_dir=repo))
    assert events[-1].phase is Phase.BUILT, events[-1].message
    assert not events[-1].cached, events[-1].message
    assert events[-1].image is not None
    assert events[-1].image.startswith(auth_registry.host)
    anonymous = manager_factory(registry_url=auth_registry.url)
    denied = await collect(anonymous.build(target_for("with-auth"), context_dir=repo))
    assert denied[-1].phase is Phase.FAILED
    assert "authentication failed" in denied[-1].message
    assert anonymous.repo2docker_runs == 0
