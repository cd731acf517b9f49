"""Self-test of the private Docker engine: it runs containers, restarts, and never touches
the host's network (its ``docker0`` lives in its own namespace)."""

from __future__ import annotations

import subprocess

import pytest

from tests.harness.dockerd import PrivateDockerd

pytestmark = [pytest.mark.docker]


def host_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def test_runs_restarts_and_keeps_to_its_namespace(private_dockerd: PrivateDockerd) -> None:
    before = host_links()
    ran = private_dockerd.docker("run", "--rm", "local/debian:bookworm", "cat", "/etc/debian_version")
    assert ran.returncode == 0, ran.stderr
    private_dockerd.restart()
    again = private_dockerd.docker("image", "inspect", "local/debian:bookworm")
    assert again.returncode == 0  # same data root after the restart
    shared = subprocess.run(["docker", "info", "--format", "{{.DockerRootDir}}"], capture_output=True,
                            text=True, check=True).stdout.strip()
    mine = private_dockerd.docker("info", "--format", "{{.DockerRootDir}}").stdout.decode().strip()
    assert mine != shared
    assert [ln.split(":")[1] for ln in host_links().splitlines()] == \
        [ln.split(":")[1] for ln in before.splitlines()]
