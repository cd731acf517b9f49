"""Self-test of the Slurm harness: a real job runs as the service account, and the
controller can be taken down and brought back with its queue."""

from __future__ import annotations

import pytest

from tests.harness.hub import wait_for
from tests.harness.slurm import JOB_USER, Cluster

pytestmark = [pytest.mark.slurm]


def test_job_runs_as_the_service_account(slurm_cluster: Cluster) -> None:
    out = slurm_cluster.run("sinfo", "-h", "-o", "%P %t")
    assert out.stdout.split() == ["debug*", "idle"], out.stdout + out.stderr
    job = slurm_cluster.submit("sleep 20")
    wait_for(lambda: any(j["id"] == job and j["state"] == "RUNNING"
                         for j in slurm_cluster.jobs()), 30, "the job to run")
    assert [j["user"] for j in slurm_cluster.jobs() if j["id"] == job] == [JOB_USER]
    assert slurm_cluster.run("scancel", job).returncode == 0
    slurm_cluster.wait_gone(job)


def test_controller_down_then_back_keeps_the_queue(slurm_cluster: Cluster) -> None:
    job = slurm_cluster.submit("sleep 60")
    slurm_cluster.stop_ctld()
    try:
        down = slurm_cluster.run("squeue", "-h")
        assert down.returncode != 0 and "slurm controller" in down.stderr, down.stderr
    finally:
        slurm_cluster.start()
    assert job in {j["id"] for j in slurm_cluster.jobs()}
    slurm_cluster.run("scancel", job)
    slurm_cluster.wait_gone(job)
