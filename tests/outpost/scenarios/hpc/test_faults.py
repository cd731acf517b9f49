"""Faults on the Slurm system: each one a clear message for the user, nothing left behind
(no job in the queue, no service at the Outpost), and the system usable afterwards."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.hub import Hub, wait_for
from tests.harness.registry import Registry
from tests.outpost.scenarios.hpc.conftest import (
    HpcImages,
    HpcOutpost,
    hpc_hub_config,
    hpc_options,
    lab,
    messages,
    server_of,
    spawn,
    wait_stopped,
)

pytestmark = [pytest.mark.slurm, pytest.mark.docker, pytest.mark.hub, pytest.mark.registry]


def assert_nothing_left(outpost: HpcOutpost) -> None:
    wait_for(lambda: outpost.jobs() == [], 60, "the job to leave the queue")
    wait_for(lambda: outpost.proc.request("GET", "/services/").json() == [], 30,
             "the Outpost to forget the service")


def test_controller_down_at_submit(hpc_outpost: HpcOutpost, hpc_images: HpcImages,
                                   hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(hpc_outpost))
    cluster = hpc_outpost.site.cluster
    cluster.stop_ctld()
    try:
        events = spawn(hub, "dave", "down", hpc_options(hpc_images.scenario))
    finally:
        cluster.start()
    text = messages(events)
    assert events[-1].get("failed"), text
    assert "Could not submit the Slurm job" in text, text
    assert "Unable to contact slurm controller" in text, text
    assert_nothing_left(hpc_outpost)
    events = spawn(hub, "dave", "again", hpc_options(hpc_images.scenario))  # back to normal
    assert events[-1].get("ready"), messages(events)
    hub.stop_server("dave", "again")
    assert_nothing_left(hpc_outpost)


def test_image_pull_fails(hpc_outpost: HpcOutpost, hpc_images: HpcImages,
                          registry: Registry, tls_registry: Registry,
                          hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(hpc_outpost))
    name = hpc_images.other.rsplit(":", 1)[0]
    wrong = f"{name}:6.1.1@sha256:{'0' * 64}"
    events = spawn(hub, "erin", "digest", hpc_options(wrong))
    text = messages(events)
    assert events[-1].get("failed"), text
    assert "image pull failed: unauthorized or not in registry" in text, text
    assert_nothing_left(hpc_outpost)

    tls_registry.stop()
    try:
        events = spawn(hub, "erin", "down", hpc_options(f"{name}:not-pulled-yet"))
    finally:
        tls_registry.start()
    text = messages(events)
    assert events[-1].get("failed"), text
    assert "image pull failed:" in text and "Connection refused" in text, text
    assert_nothing_left(hpc_outpost)


def _server_pids(outpost: HpcOutpost, job_id: str) -> list[int]:
    out = outpost.site.cluster.run("scontrol", "listpids", job_id).stdout.split("\n")[1:]
    pids = [int(line.split()[0]) for line in out if line.strip()]
    return [pid for pid in pids
            if b"jupyterhub-singleuser" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def test_job_killed_by_the_node(hpc_outpost: HpcOutpost, hpc_images: HpcImages,
                                hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(hpc_outpost))
    events = spawn(hub, "frank", "oom", hpc_options(hpc_images.scenario))
    assert events[-1].get("ready"), messages(events)
    [job] = hpc_outpost.jobs()
    pids = _server_pids(hpc_outpost, job["id"])
    assert pids, "no jupyterhub-singleuser process in the job"
    for pid in pids:  # what the kernel's OOM killer does
        os.kill(pid, signal.SIGKILL)
    wait_stopped(hub, "frank", "oom", timeout=60)
    final = hpc_outpost.site.cluster.run("squeue", "-h", "-t", "all", "-j", job["id"], "-o",
                                         "%T %r")
    assert final.stdout.split()[0] == "FAILED", final.stdout
    assert_nothing_left(hpc_outpost)


def _crash_restart(outpost: HpcOutpost) -> None:
    proc = outpost.proc
    assert proc.process is not None
    os.killpg(proc.process.pid, signal.SIGKILL)
    proc.process.wait(10)
    proc.restarts += 1
    proc.start()


def test_outpost_restarted_while_jobs_run_or_wait(
        hpc_outpost: HpcOutpost, hpc_images: HpcImages,
        hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(hpc_outpost))
    events = spawn(hub, "grace", "running", hpc_options(hpc_images.scenario))
    assert events[-1].get("ready"), messages(events)
    url = events[-1]["url"]
    [running] = hpc_outpost.jobs()

    hpc_outpost.proc.restart()  # clean restart: still polled, still stoppable
    for _ in range(3):  # poll rounds against the new process (every 2 s)
        wait_for(lambda: (server_of(hub, "grace", "running") or {}).get("ready"), 5, "ready")
    assert lab(hub, url + "api/status").status_code == 200

    # A start cut short by a crash: the restarted Outpost cancels the queued job.
    cluster = hpc_outpost.site.cluster
    blocker = cluster.submit("sleep 60", cpus=int(cluster.run("nproc").stdout))
    hub.ensure_user("grace")
    r = hub.api("POST", "/users/grace/servers/queued", json=hpc_options(hpc_images.scenario))
    assert r.status_code in (201, 202), r.text
    wait_for(lambda: any(j["state"] == "PENDING" for j in hpc_outpost.jobs()), 60,
             "the new job to wait in the queue")
    _crash_restart(hpc_outpost)
    wait_for(lambda: [j["id"] for j in hpc_outpost.jobs()] == [running["id"]], 60,
             "the restarted Outpost to cancel the interrupted start's job")
    wait_stopped(hub, "grace", "queued", timeout=60)
    cluster.run("scancel", blocker)

    hub.stop_server("grace", "running")
    assert_nothing_left(hpc_outpost)
