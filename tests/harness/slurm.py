"""A real one-node Slurm cluster on loopback (munge + slurmctld + slurmd), for the session.

Started with the project's own ``scripts/slurm-cluster.sh`` (the same script setup.sh
uses for the stack's cluster) in a temp directory, with its own cluster name and ports,
so it never meets the machine's other clusters. Jobs run as the service account
:data:`JOB_USER` that ``scripts/setup.sh`` creates.

API::

    cluster = start_cluster(workdir)
    cluster.conf                    # path of slurm.conf (SLURM_CONF)
    cluster.run("squeue", "-h")     # CompletedProcess (text), SLURM_CONF set
    cluster.jobs()                  # [{"id", "name", "state", "user"}] in squeue
    cluster.submit("sleep 30", cpus=2)   # a job as JOB_USER; its id
    cluster.stop_ctld(); cluster.start()  # fault tests: controller down / back
    cluster.stop()

Fixtures: ``slurm_cluster`` (session) and ``hpc_site`` (session): the cluster plus a
Charliecloud storage and a storage root owned by :data:`JOB_USER` — every test that pulls
shares the storage, so an image is pulled once per session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.hub import wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-cluster.sh"
JOB_USER = "nfdi-hpc"


def job_user_ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(JOB_USER)
    except KeyError:
        pytest.fail(f"the service account {JOB_USER} is missing: run scripts/setup.sh")
    return entry.pw_uid, entry.pw_gid


@dataclass
class Cluster:
    workdir: Path

    @property
    def conf(self) -> Path:
        return self.workdir / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self) -> None:
        out = subprocess.run(["bash", str(SCRIPT), "start", str(self.workdir)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"slurm-cluster.sh start failed:\n{out.stderr}")

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.workdir)], capture_output=True,
                       timeout=60)

    def stop_ctld(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop-ctld", str(self.workdir)], check=True,
                       capture_output=True, timeout=60)

    def run(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def jobs(self) -> list[dict[str, str]]:
        out = self.run("squeue", "-h", "-o", "%i|%j|%T|%u")
        rows = [line.split("|") for line in out.stdout.splitlines() if line.strip()]
        return [dict(zip(("id", "name", "state", "user"), row, strict=True)) for row in rows]

    def submit(self, command: str, cpus: int = 1, time: str = "5") -> str:
        """Submit ``command`` as a batch job of JOB_USER; returns the job id."""
        script = f"#!/bin/bash\n{command}\n"
        out = subprocess.run(
            ["runuser", "-u", JOB_USER, "--", "sbatch", "--parsable", f"--cpus-per-task={cpus}",
             f"--time={time}", "--output=/dev/null", "--chdir=/tmp"],
            input=script, capture_output=True, text=True, env=self.env, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout.strip().split(";")[0]

    def cancel_all(self, name_prefix: str = "") -> None:
        for job in self.jobs():
            if job["name"].startswith(name_prefix):
                self.run("scancel", job["id"])

    def wait_gone(self, job_id: str, timeout: float = 60) -> None:
        wait_for(lambda: job_id not in {j["id"] for j in self.jobs()}, timeout,
                 f"Slurm job {job_id} to leave the queue")


def _shared_dir(prefix: str) -> Path:
    """A temp dir the job account can traverse (jobs read slurm.conf and their files)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def start_cluster(workdir: Path) -> Cluster:
    if shutil.which("slurmctld") is None or shutil.which("ch-run") is None:
        pytest.fail("Slurm/Charliecloud are not installed: run scripts/setup.sh")
    job_user_ids()
    cluster = Cluster(workdir)
    cluster.start()
    return cluster


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Cluster]:
    """A private one-node cluster for the session."""
    workdir = _shared_dir("nfdi-test-slurm-")
    cluster = start_cluster(workdir)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class HpcSite:
    """The cluster plus the file system places the Slurm backend uses."""

    cluster: Cluster
    root: Path

    @property
    def charliecloud(self) -> Path:
        """The storage (ch-image creates it on the first pull, in a directory of the
        job account)."""
        return self.root / "charliecloud" / "storage"

    @property
    def users(self) -> Path:
        return self.root / "hpc-users"


@pytest.fixture(scope="session")
def hpc_site(slurm_cluster: Cluster) -> Iterator[HpcSite]:
    root = _shared_dir("nfdi-test-hpc-")
    uid, gid = job_user_ids()
    site = HpcSite(cluster=slurm_cluster, root=root)
    for path in (site.charliecloud.parent, site.users):
        path.mkdir(mode=0o700)
        os.chown(path, uid, gid)
    try:
        yield site
    finally:
        shutil.rmtree(root, ignore_errors=True)
