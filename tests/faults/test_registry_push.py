"""The registry stops while a build the launcher runs is about to push: one ``failed`` event
saying the build failed, no stale lock, no tag pushed; once the registry is back the same
request builds and pushes the image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders.hostlock import HostLock
from builders.registry import RegistryStore
from tests.faults.conftest import FaultRepos, failures, image_of, start_job, wait_job
from tests.harness.launcher import start_launcher
from tests.harness.registry import start_registry

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.slow]


def test_registry_stopped_during_push(tmp_path: Path, fault_repos: FaultRepos, builder_images: str) -> None:
    registry = start_registry(tmp_path / "registry")  # our own: stopping it disturbs no one
    launcher = start_launcher(tmp_path / "launcher", [
        "c.Admission.rate_limit = 0",
        f"c.BuildManager.registry_url = {registry.url!r}",
        f"c.BuildManager.image_prefix = {builder_images!r}",
    ], env={"NFDI_LAUNCHER_URL_REWRITES": json.dumps(fault_repos.rewrites())})
    try:
        job_id = start_job(launcher, "builds", fault_repos.public("pushed"))
        building = wait_job(launcher, "builds", job_id, lambda s: any(
            str(ev.get("message", "")).startswith("Building ") for ev in s["events"]))
        image = image_of(building)
        registry.stop()  # the image is looked up already; the push comes after the RUN step
        try:
            done = wait_job(launcher, "builds", job_id, timeout=300)
        finally:
            registry.start()
        assert done["status"] == "failed"
        assert len(failures(done)) == 1
        assert (done["reason"], done["status_code"]) == ("registry_unavailable", 503), done
        assert done["message"].startswith("The image registry is not available"), done["message"]
        assert "Traceback" not in done["message"]
        assert HostLock(tmp_path / "launcher" / "builds", image).try_probe()
        assert RegistryStore(registry.url).lookup(image) is None  # nothing half-pushed

        retry = wait_job(launcher, "builds", start_job(launcher, "builds", fault_repos.public("pushed")),
                         timeout=300)
        assert retry["status"] == "ready", retry["events"][-3:]
        assert RegistryStore(registry.url).lookup(image) is not None
    finally:
        launcher.stop()
        registry.stop()
