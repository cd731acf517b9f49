"""A builder process that dies mid-build leaves no stale lock: a waiting process takes over."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from builders import BuildEvent, BuildManager, Phase, content_digest
from builders.hostlock import HostLock
from fdo.target import LaunchTarget
from tests.builders.conftest import make_repo
from tests.harness.hub import wait_for
from tests.harness.registry import Registry

pytestmark = [pytest.mark.docker, pytest.mark.registry]

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


async def test_follower_takes_over_when_builder_is_killed(
    manager_factory: Callable[..., BuildManager], registry: Registry, builder_images: str,
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 30\n")
    state = tmp_path / "state"
    pids = tmp_path / "r2d-pids.txt"
    wrapper = tmp_path / "r2d-pid"
    wrapper.write_text(f'#!/bin/sh\necho $$ >> {pids}\nexec {VENV_BIN / "repo2docker"} "$@"\n')
    wrapper.chmod(0o755)
    config = tmp_path / "nfdi_launcher_config.py"
    config.write_text(f"c.DockerExecutor.repo2docker_command = [{str(wrapper)!r}]\n")
    crashing = subprocess.Popen(
        [str(VENV_BIN / "nfdi-launcher"), "build", "-f", str(config), "--registry", registry.url,
         "--state-dir", str(state), "--image-prefix", builder_images, str(repo)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: pids.exists() and pids.read_text().strip(), 60, "the first repo2docker start")
        manager = manager_factory(state_dir=str(state), repo2docker_command=[str(wrapper)])
        events: list[BuildEvent] = []
        killed_at = 0.0
        async for event in manager.build(LaunchTarget.from_directory(repo), context_dir=repo):
            events.append(event)
            if "following its log" in event.message:
                crashing.kill()  # SIGKILL: no cleanup code runs, the kernel drops the flock
                crashing.wait(10)
                first = int(pids.read_text().split()[0])  # its repo2docker dies with it
                wait_for(lambda pid=first: not Path(f"/proc/{pid}").exists(), 15, "the orphaned repo2docker to die")
                killed_at = time.monotonic()
                manager.executor.build_timeout = 5  # our own take-over build: RUN sleep 30 times out
    finally:
        if crashing.poll() is None:
            crashing.kill()
            crashing.wait(10)
    assert killed_at, [e.message for e in events]
    assert manager.repo2docker_runs == 1  # this process built after the crash
    assert len(pids.read_text().split()) == 2
    assert events[-1].phase is Phase.FAILED
    assert "timed out" in events[-1].message
    image = next(e.message.split(" -> image ")[1].strip() for e in events if " -> image " in e.message)
    assert HostLock(state, image).try_probe()


def processes_running(needle: str) -> list[int]:
    """Pids whose command line contains *needle* (build steps run as host processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if needle.encode() in cmdline:
                found.append(int(entry))
    return found


def test_a_killed_builder_takes_its_build_with_it(registry: Registry, builder_images: str,
                                                  tmp_path: Path) -> None:
    """SIGKILL of the process that started a build stops repo2docker, the buildx client
    and the RUN step in the engine; the lock is free and nothing is pushed."""
    marker = f"{os.getpid() % 1000}.{int(time.time()) % 100000}"  # this run's own sleep
    repo = make_repo(tmp_path / "repo", steps=f"RUN sleep 9{marker}\n")
    state = tmp_path / "state"
    pids = tmp_path / "r2d-pids.txt"
    wrapper = tmp_path / "r2d-pid"
    wrapper.write_text(f'#!/bin/sh\necho $$ >> {pids}\nexec {VENV_BIN / "repo2docker"} "$@"\n')
    wrapper.chmod(0o755)
    config = tmp_path / "nfdi_launcher_config.py"
    config.write_text(f"c.DockerExecutor.repo2docker_command = [{str(wrapper)!r}]\n")
    builder = subprocess.Popen(
        [str(VENV_BIN / "nfdi-launcher"), "build", "-f", str(config), "--registry", registry.url,
         "--state-dir", str(state), "--image-prefix", builder_images, str(repo)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: processes_running(f"sleep 9{marker}"), 120, "the RUN step to start")
        r2d = int(pids.read_text().split()[0])
        builder.kill()  # SIGKILL: no cleanup code of the builder runs
        builder.wait(10)
        wait_for(lambda: not processes_running(f"sleep 9{marker}"), 30, "the RUN step to stop")
        with pytest.raises(ProcessLookupError):
            os.killpg(r2d, 0)  # repo2docker's process group (the guard's) is gone
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.wait(10)
    manager = BuildManager(registry_url=registry.url, state_dir=str(state), image_prefix=builder_images)
    image = manager.image_name(LaunchTarget.from_directory(repo), content_digest(repo))
    assert HostLock(state, image).try_probe()  # no stale lock
    assert manager.store.lookup(image) is None  # nothing half-pushed under the tag
