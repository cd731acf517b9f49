"""The OutpostSpawner's delayed tunnel: the Outpost answers with no address, the job POSTs
its ``host:port`` to the hub, and the hub forwards through a real sshd (the login node)
with a forwarding-only key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.hub import Hub, wait_for
from tests.harness.sshd import LoginNode
from tests.outpost.scenarios.hpc.conftest import (
    HpcImages,
    HpcOutpost,
    hpc_hub_config,
    hpc_options,
    lab,
    messages,
    spawn,
    wait_stopped,
)

pytestmark = [pytest.mark.slurm, pytest.mark.docker, pytest.mark.hub, pytest.mark.registry]


def _ssh_forwards(workdir: str) -> list[str]:
    """``-L`` arguments of the hub's ssh master processes for this test's hub."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process ended meanwhile
            continue
        if argv[0] == "ssh" and "-L" in argv and any(workdir in a for a in argv):
            found.append(argv[argv.index("-L") + 1])
    return found


def test_server_is_reached_through_the_login_node(
        hpc_outpost_factory: Callable[..., HpcOutpost], hpc_images: HpcImages,
        login_node: LoginNode, hub_factory: Callable[..., Hub]) -> None:
    outpost = hpc_outpost_factory(tunnel=True, ssh_node="127.0.0.1")
    hub = hub_factory(spawner="outpost", config=hpc_hub_config(outpost, tunnel=login_node))
    events = spawn(hub, "heidi", "tunnelled", hpc_options(hpc_images.scenario))
    assert events[-1].get("ready"), messages(events)
    assert lab(hub, events[-1]["url"] + "api/status").status_code == 200

    [job] = outpost.jobs()
    comment = outpost.site.cluster.run("squeue", "-h", "-j", job["id"], "-o", "%k").stdout
    server_port = re.search(r"nfdi:addr=127\.0\.0\.1:(\d+)", comment).group(1)  # type: ignore[union-attr]
    [forward] = _ssh_forwards(str(outpost.proc.workdir))
    local, _, target = forward.partition(":127.0.0.1:")
    assert target == server_port and local.startswith("127.0.0.1:")  # the hub's own port
    assert f"Accepted publickey for {login_node.user}" in login_node.log_text()
    assert "started hub-a/tunnelled" in outpost.proc.log_tail(200)

    hub.stop_server("heidi", "tunnelled")
    assert outpost.jobs() == []
    wait_for(lambda: _ssh_forwards(str(outpost.proc.workdir)) == [], 20,
             "the hub to close the tunnel")


def test_login_node_refusing_the_key(
        hpc_outpost_factory: Callable[..., HpcOutpost], hpc_images: HpcImages,
        login_node: LoginNode, hub_factory: Callable[..., Hub]) -> None:
    outpost = hpc_outpost_factory(tunnel=True, ssh_node="127.0.0.1")
    config = hpc_hub_config(outpost, tunnel=login_node, key=str(login_node.refused_key))
    hub = hub_factory(spawner="outpost", config=config)
    events = spawn(hub, "ivan", "refused", hpc_options(hpc_images.scenario))
    text = messages(events)
    assert events[-1].get("failed"), text
    assert "Could not set up the SSH tunnel" in text, text
    assert "Permission denied (publickey)" in text, text
    wait_stopped(hub, "ivan", "refused", timeout=60)
    wait_for(lambda: outpost.jobs() == [], 60, "the job to be cancelled")
    wait_for(lambda: outpost.proc.request("GET", "/services/").json() == [], 30,
             "the Outpost to forget the service")
    assert _ssh_forwards(str(outpost.proc.workdir)) == []
