"""The launcher is killed (SIGKILL) while a build it started runs, and started again.

Its build dies with it (repo2docker runs under the guard), the lock is free and nothing
was pushed under the image's tag; the restarted launcher answers for the job from its
store: ``failed``, saying the launcher restarted. It does not start the build again by
itself; the requester's retry builds it once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders.hostlock import HostLock
from builders.registry import RegistryStore
from launcher.jobs import restarted_message
from tests.faults.conftest import (
    FaultRepos,
    failures,
    image_of,
    job,
    r2d_runs,
    running_steps,
    start_job,
    wait_job,
)
from tests.harness.hub import wait_for
from tests.harness.launcher import start_launcher
from tests.harness.registry import Registry
from tests.harness.stack import alive

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.slow]


def test_a_killed_launcher_leaves_nothing_running_and_answers_after_restart(
        tmp_path: Path, fault_repos: FaultRepos, registry: Registry,
        counting_r2d: tuple[Path, Path], builder_images: str) -> None:
    wrapper, runs = counting_r2d
    launcher = start_launcher(tmp_path / "launcher", [
        "c.Admission.rate_limit = 0",
        f"c.BuildManager.registry_url = {registry.url!r}",
        f"c.BuildManager.image_prefix = {builder_images!r}",
        f"c.DockerExecutor.repo2docker_command = [{str(wrapper)!r}]",
    ], env={"NFDI_LAUNCHER_URL_REWRITES": json.dumps(fault_repos.rewrites())})
    try:
        job_id = start_job(launcher, "builds", fault_repos.public("slow"))
        building = wait_job(launcher, "builds", job_id, lambda s: any(
            "sleep 25" in str(ev.get("message", "")) for ev in s["events"]))
        image = image_of(building)
        marker = fault_repos.step_marker("slow")
        wait_for(lambda: running_steps(marker), 60, "the RUN step to run")
        assert r2d_runs(runs) == 1
        launcher.kill()

        # nothing keeps running or holding on, nothing half-pushed
        wait_for(lambda: not running_steps(marker), 30, "the killed launcher's build step to stop")
        first_r2d = int(runs.read_text().split()[0])
        wait_for(lambda: not alive(first_r2d), 15, "the killed launcher's repo2docker to exit")
        state_dir = tmp_path / "launcher" / "builds"
        assert HostLock(state_dir, image).try_probe()
        assert RegistryStore(registry.url).lookup(image) is None

        launcher.restart()
        told = job(launcher, "builds", job_id)
        assert told["status"] == "failed"
        assert told["message"].startswith(restarted_message("build"))
        assert (told["reason"], told["status_code"]) == ("launcher_restarted", 503)
        assert told["message"].endswith(f"Request id: {told['request_id']}.")
        assert len(failures(told)) == 1
        assert told["events"][0]["phase"] is not None  # what happened before is kept
        assert r2d_runs(runs) == 1  # the restarted launcher did not build it again by itself

        retry = start_job(launcher, "builds", fault_repos.public("slow"))
        done = wait_job(launcher, "builds", retry, timeout=400)
        assert done["status"] == "ready", done["events"][-3:]
        assert r2d_runs(runs) == 2  # the killed run and the retry, nothing else
        assert RegistryStore(registry.url).lookup(image) is not None
    finally:
        launcher.stop()


def test_a_stopped_launcher_tells_its_requesters(
        tmp_path: Path, fault_repos: FaultRepos, registry: Registry) -> None:
    """SIGINT (an operator's restart) ends its running jobs as failed, in the store."""
    launcher = start_launcher(tmp_path / "launcher", [
        "c.Admission.rate_limit = 0",
        f"c.BuildManager.registry_url = {registry.url!r}",
    ], env={"NFDI_LAUNCHER_URL_REWRITES": json.dumps(fault_repos.rewrites())})
    try:
        job_id = start_job(launcher, "builds", fault_repos.public("stopped"))
        wait_job(launcher, "builds", job_id, lambda s: any(
            "sleep 25" in str(ev.get("message", "")) for ev in s["events"]))
        launcher.restart()  # SIGINT, then the same config and store
        told = job(launcher, "builds", job_id)
        assert told["status"] == "failed"
        assert "was stopped while this build was in progress" in told["message"]
        wait_for(lambda: not running_steps(fault_repos.step_marker("stopped")), 30, "the build step to stop")
    finally:
        launcher.stop()
