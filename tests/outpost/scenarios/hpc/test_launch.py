"""Launching Binder images onto the Slurm system through the hub: ready, reachable, in the
queue while it runs, gone after the stop, and ``~/work`` kept for the next image."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness.hub import Hub, wait_for
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


def test_launch_work_survives_into_another_image(
        hpc_outpost: HpcOutpost, hpc_images: HpcImages,
        hub_factory: Callable[..., Hub]) -> None:
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(hpc_outpost))
    events = spawn(hub, "alice", "first", hpc_options(hpc_images.scenario))
    assert events[-1].get("ready"), messages(events)
    text = messages(events)
    assert "Slurm: submitting a job" in text and "running on node" in text, text
    url = events[-1]["url"]
    assert lab(hub, url + "api/status").status_code == 200
    # the repository content is in the home, next to the persistent folder
    listing = lab(hub, url + "api/contents/").json()
    names = {entry["name"] for entry in listing["content"]}
    assert {"index.ipynb", "README.md", "work"} <= names, names
    put = lab(hub, url + "api/contents/work/kept.txt", "PUT",
              json={"type": "file", "format": "text", "content": "from the first image"})
    assert put.status_code in (200, 201), put.text

    [job] = hpc_outpost.jobs()
    assert job["state"] == "RUNNING" and job["user"] == "nfdi-hpc"
    hub.stop_server("alice", "first")
    assert hpc_outpost.jobs() == []
    assert hpc_outpost.proc.request("GET", "/services/").json() == []

    events = spawn(hub, "alice", "second", hpc_options(hpc_images.other))
    assert events[-1].get("ready"), messages(events)
    url = events[-1]["url"]
    kept = lab(hub, url + "api/contents/work/kept.txt").json()
    assert kept["content"] == "from the first image"
    names = {e["name"] for e in lab(hub, url + "api/contents/").json()["content"]}
    assert "index.ipynb" not in names  # another image: its own home content
    hub.stop_server("alice", "second")
    assert hpc_outpost.jobs() == []
    assert server_of(hub, "alice", "second") is None


def test_pending_job_shows_queue_events_then_starts(
        hpc_outpost: HpcOutpost, hpc_images: HpcImages,
        hub_factory: Callable[..., Hub]) -> None:
    cluster = hpc_outpost.site.cluster
    blocker = cluster.submit("sleep 12", cpus=int(cluster.run("nproc").stdout))
    wait_for(lambda: any(j["id"] == blocker and j["state"] == "RUNNING"
                         for j in cluster.jobs()), 30, "the blocking job to run")
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(hpc_outpost))
    events = spawn(hub, "bob", "queued", hpc_options(hpc_images.scenario))
    text = messages(events)
    assert events[-1].get("ready"), text
    assert "Slurm: queued in partition debug, position 1 (Resources)" in text, text
    assert text.index("queued in partition") < text.index("running on node")
    assert blocker not in {j["id"] for j in cluster.jobs()}  # it had to end first
    hub.stop_server("bob", "queued")
    assert hpc_outpost.jobs() == []


@pytest.mark.slow
def test_walltime_expiry_stops_the_server(
        hpc_outpost_factory: Callable[..., HpcOutpost], hpc_images: HpcImages,
        hub_factory: Callable[..., Hub]) -> None:
    # The Outpost's own runtime check is pushed out of the way: Slurm's limit must do it.
    outpost = hpc_outpost_factory()
    outpost.proc.stop()
    config = outpost.proc.workdir / "nfdi_launcher_config.py"
    config.write_text(config.read_text() + "c.OutpostConfig.check_interval = 3600\n")
    outpost.proc.start()
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(outpost))
    events = spawn(hub, "carol", "short", hpc_options(hpc_images.scenario, flavor="hpc-short"))
    assert events[-1].get("ready"), messages(events)
    [job] = outpost.jobs()
    limit = outpost.site.cluster.run("squeue", "-h", "-j", job["id"], "-o", "%l").stdout
    assert limit.strip() == "1:00"  # the flavor's runtime became --time
    wait_stopped(hub, "carol", "short", timeout=150)
    final = outpost.site.cluster.run("squeue", "-h", "-t", "all", "-j", job["id"], "-o", "%T")
    assert final.stdout.strip() == "TIMEOUT"
    wait_for(lambda: outpost.proc.request("GET", "/services/").json() == [], 30,
             "the Outpost to forget the expired server")
    assert outpost.jobs() == []
