"""Faults end in one readable FAILED event, leave no stale lock, and the next request builds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from builders import BuildEvent, BuildManager, Phase
from builders.hostlock import HostLock
from tests.builders.conftest import collect, make_repo, target_for
from tests.harness.registry import Registry

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def lock_is_free(manager: BuildManager, events: list[BuildEvent]) -> bool:
    image = next(e.message.split(" -> image ")[1].strip() for e in events if " -> image " in e.message)
    return HostLock(Path(manager.state_dir), image).try_probe()


def assert_one_failure(events: list[BuildEvent], text: str) -> None:
    terminal = [e for e in events if e.terminal]
    assert len(terminal) == 1, [e.message for e in events[-5:]]
    assert terminal[0] is events[-1], [e.message for e in events[-5:]]
    assert events[-1].phase is Phase.FAILED
    assert text in events[-1].message, events[-1].message


async def test_failing_dockerfile(manager_factory: Callable[..., BuildManager], tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN echo 'no such tool: frobnicate' && exit 3\n")
    manager = manager_factory()
    events = await collect(manager.build(target_for("failing"), context_dir=repo))
    assert_one_failure(events, "Build failed: repo2docker exited with status")
    assert lock_is_free(manager, events)
    again = await collect(manager.build(target_for("failing"), context_dir=repo))
    assert again[-1].phase is Phase.FAILED
    assert manager.repo2docker_runs == 2


async def test_build_timeout_kills_the_build(manager_factory: Callable[..., BuildManager], tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 120\n")
    manager = manager_factory(build_timeout=4)
    started = time.monotonic()
    events = await collect(manager.build(target_for("slow"), context_dir=repo))
    assert time.monotonic() - started < 60
    assert_one_failure(events, "build timed out after 4 s")
    assert lock_is_free(manager, events)
    again = await collect(manager.build(target_for("slow"), context_dir=repo))
    assert_one_failure(again, "timed out")
    assert manager.repo2docker_runs == 2


async def test_registry_down_during_push(
    manager_factory: Callable[..., BuildManager], registry: Registry, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 2\n")
    manager = manager_factory()
    events: list[BuildEvent] = []
    try:
        async for event in manager.build(target_for("push-down"), context_dir=repo):
            events.append(event)
            if event.message.startswith("Building "):  # lookup done; push comes after RUN
                registry.stop()
    finally:
        registry.start()
    assert_one_failure(events, "Build failed")
    assert lock_is_free(manager, events)
    again = await collect(manager.build(target_for("push-down"), context_dir=repo))
    assert again[-1].phase is Phase.BUILT, again[-1].message
    assert not again[-1].cached, again[-1].message
    assert manager.repo2docker_runs == 2


PROXY = r"""
import asyncio, sys
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    ur, uw = await asyncio.open_unix_connection("/var/run/docker.sock")
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
async def main():
    server = await asyncio.start_unix_server(handle, sys.argv[1])
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def start_proxy(sock: Path) -> subprocess.Popen[str]:
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", PROXY, str(sock)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


async def test_engine_connection_lost_mid_build(
    manager_factory: Callable[..., BuildManager], tmp_path: Path
) -> None:
    """The engine goes away mid-build: repo2docker talks to dockerd through a socket
    proxy that we kill during a RUN step (instead of restarting the shared dockerd)."""
    sock = tmp_path / "docker.sock"
    proxy = start_proxy(sock)
    # long enough that the step is still running when the proxy dies, however late the
    # step's log line arrives (with 5 s the build once finished first)
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 20\n")
    manager = manager_factory(docker_host=f"unix://{sock}")
    events: list[BuildEvent] = []
    try:
        async for event in manager.build(target_for("engine-lost"), context_dir=repo):
            events.append(event)
            if "RUN sleep 20" in event.message and proxy.poll() is None:
                await asyncio.sleep(1)
                proxy.kill()
                proxy.wait(10)
    finally:
        proxy.kill()
        proxy.wait(10)
    assert_one_failure(events, "Build failed")
    assert lock_is_free(manager, events)
    proxy = start_proxy(sock)
    try:
        again = await collect(manager.build(target_for("engine-lost"), context_dir=repo))
    finally:
        proxy.kill()
        proxy.wait(10)
    assert again[-1].phase is Phase.BUILT, again[-1].message
    assert manager.repo2docker_runs == 2


async def test_close_stops_running_builds(manager_factory: Callable[..., BuildManager], tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 60\n")
    manager = manager_factory()
    events: list[BuildEvent] = []
    started = time.monotonic()
    async for event in manager.build(target_for("closing"), context_dir=repo):
        events.append(event)
        if "RUN sleep 60" in event.message:
            await manager.close()
    assert time.monotonic() - started < 40
    assert_one_failure(events, "Build cancelled")
    assert lock_is_free(manager, events)
