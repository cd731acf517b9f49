"""User data under ~/work survives stop, a different image and Outpost restarts (20 cycles)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.outpost.conftest import docker_exec
from tests.outpost.outpost_proc import BASE_IMAGE, OutpostProc, start_body

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CYCLES = 20


def test_files_survive_20_cycles_of_launch_write_stop_and_outpost_restarts(
        outpost_factory: Callable[..., OutpostProc], alt_image: str) -> None:
    # Files, not readiness: no hub here, so the servers never listen; the Outpost answers
    # as soon as the container runs (the operator setting for unreachable servers).
    outpost = outpost_factory(extra_config="c.DockerBackend.ready_check = False\n")
    for cycle in range(CYCLES):
        image = alt_image if cycle % 2 else BASE_IMAGE
        start_id = f"c{cycle}"
        r = outpost.request("POST", "/services",
                            json=start_body("repo", start_id=start_id, image=image))
        assert r.status_code == 200, r.text
        (container,) = outpost.containers()
        # The image's home is the image's own: the marker file only in the alt image.
        marker = docker_exec(container, "ls /home/jovyan")
        assert ("ALT_IMAGE" in marker) == (image == alt_image)
        files = docker_exec(container, "ls /home/jovyan/work").split()
        assert files == sorted(f"cycle-{i:02d}.txt" for i in range(cycle)), (cycle, files)
        for i in range(cycle):
            content = docker_exec(container, f"cat /home/jovyan/work/cycle-{i:02d}.txt")
            assert content == f"written in cycle {i}\n"
        docker_exec(container, f"echo 'written in cycle {cycle}' > "
                               f"/home/jovyan/work/cycle-{cycle:02d}.txt")
        if cycle % 4 == 3:
            # A restarted Outpost still knows, polls and stops the running server.
            outpost.restart()
            assert outpost.request("GET", f"/services/repo/{start_id}").json() == {
                "status": None, "logs": []}
        assert outpost.request("DELETE", f"/services/repo/{start_id}").status_code == 200
        assert outpost.containers() == []
    assert len(outpost.volumes()) == 1
