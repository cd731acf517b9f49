"""The Docker engine restarts in the middle of a build. Never the machine's shared engine:
the launcher builds on a private one (tests/harness/dockerd.py: own data root, socket,
containerd and network namespace), and that one is restarted with SIGTERM, as an
operator's ``systemctl restart docker`` does.

One ``failed`` event saying the build failed, no stale lock, no half-built image under the
tag, no container left; the same request builds once the engine is back. (Seen here: the
RUN step's process, started by the engine's BuildKit, survives dockerd's restart until its
command ends; the test waits for that instead of pretending it is killed.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders.hostlock import HostLock
from tests.faults.conftest import FaultRepos, failures, image_of, running_steps, start_job, wait_job
from tests.harness.dockerd import PrivateDockerd
from tests.harness.hub import wait_for
from tests.harness.launcher import start_launcher

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_dockerd_restarted_mid_build(tmp_path: Path, fault_repos: FaultRepos,
                                     private_dockerd: PrivateDockerd) -> None:
    launcher = start_launcher(tmp_path / "launcher", [
        "c.Admission.rate_limit = 0",
        "c.BuildManager.image_prefix = 'local/nfdi-launcher-faults/'",  # no registry: the engine
    ], env={"NFDI_LAUNCHER_URL_REWRITES": json.dumps(fault_repos.rewrites()),
            "DOCKER_HOST": private_dockerd.host})
    try:
        job_id = start_job(launcher, "builds", fault_repos.public("engine"))
        building = wait_job(launcher, "builds", job_id, lambda s: any(
            "sleep 20" in str(ev.get("message", "")) for ev in s["events"]))
        image = image_of(building)
        marker = fault_repos.step_marker("engine")
        wait_for(lambda: running_steps(marker), 60, "the RUN step to run in the private engine")
        private_dockerd.restart()
        done = wait_job(launcher, "builds", job_id, timeout=120)
        assert done["status"] == "failed"
        assert len(failures(done)) == 1
        # the engine's fault, not the repository's (issue 18), though it is back by now
        assert (done["reason"], done["status_code"]) == ("engine_unavailable", 503), done
        assert done["message"].startswith("The build service is not available"), done["message"]
        # BuildKit's step process outlives the engine's restart (the engine's doing, not
        # ours); it is an orphan that ends with its command, nothing restarts or reuses it
        wait_for(lambda: not running_steps(marker), 40, "the orphaned RUN step to end")
        assert HostLock(tmp_path / "launcher" / "builds", image).try_probe()
        assert private_dockerd.docker("image", "inspect", image).returncode != 0
        assert private_dockerd.docker("ps", "-aq").stdout.split() == []

        retry = wait_job(launcher, "builds", start_job(launcher, "builds", fault_repos.public("engine")),
                         timeout=300)
        assert retry["status"] == "ready", retry["events"][-3:]
        assert private_dockerd.docker("image", "inspect", image.split("@")[0]).returncode == 0
    finally:
        launcher.stop()
