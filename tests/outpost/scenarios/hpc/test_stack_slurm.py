"""``nfdi-launcher stack --with-slurm``, started as the README says: the launcher offers the
system ``hpc-slurm``, builds a git repository with repo2docker, and its hand-off starts the
image as a Slurm job through the Slurm Outpost; ``~/work`` is there again in the next job
(another image: tests/outpost/scenarios/hpc/test_launch.py), and Ctrl-C leaves no job behind."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.harness.hub import wait_for
from tests.harness.slurm import HpcSite
from tests.harness.stack import PUBLIC_GIT, RunningStack, StackPool

pytestmark = [pytest.mark.slurm, pytest.mark.docker, pytest.mark.registry, pytest.mark.hub,
              pytest.mark.slow]

REPO = PUBLIC_GIT + "rees-dockerfile"


@pytest.fixture
def slurm_stack(stack_pool: StackPool, hpc_site: HpcSite) -> RunningStack:
    return stack_pool.get("--with-slurm", "--slurm-conf", str(hpc_site.cluster.conf),
                          "--hpc-root", str(hpc_site.root))


def build_stream(stack: RunningStack, sha: str, token: str, timeout: float = 400,
                 ) -> list[dict[str, Any]]:
    """The launcher's BinderHub-style stream for REPO at *sha* onto hpc-slurm."""
    url = (f"{stack.launcher}build/git/{quote(REPO, safe='')}/{sha}"
           "?system=hpc-slurm&flavor=hpc-small")
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with requests.get(url, stream=True, timeout=timeout, headers={
            "Authorization": f"token {token}", "Accept": "text/event-stream"}) as r:
        assert r.status_code == 200, r.text
        for raw in r.iter_lines(decode_unicode=True):
            assert time.monotonic() < deadline, events[-3:]
            if raw and raw.startswith("data:"):
                events.append(json.loads(raw[5:]))
                if events[-1].get("phase") in ("ready", "failed"):
                    break
    return events


def stack_jobs(stack: RunningStack, site: HpcSite) -> list[dict[str, str]]:
    prefix = (stack.state / "name-prefix").read_text().strip() + "hpc-"
    return [j for j in site.cluster.jobs() if j["name"].startswith(prefix)]


def test_launcher_offers_hpc_and_launches_a_git_commit_as_slurm_jobs(
        slurm_stack: RunningStack, hpc_site: HpcSite, git_server: Any) -> None:
    stack = slurm_stack
    token = stack.user_token("ada")
    systems = requests.get(stack.launcher + "api/v1/systems", timeout=30,
                           headers={"Authorization": f"token {token}"}).json()["systems"]
    [hpc] = [s for s in systems if s["name"] == "hpc-slurm"]
    assert hpc["display_name"] == "HPC (Slurm)"
    assert {f["name"] for f in hpc["flavors"]} == {"hpc-small", "hpc-medium"}

    kept: list[str] = []
    sha = git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    for run in ("first", "second"):  # the second job finds the image in the storage
        events = build_stream(stack, sha, token)
        ready = events[-1]
        assert ready.get("phase") == "ready", events[-4:]
        assert any("Slurm: running on node" in str(e.get("message")) for e in events), events
        [job] = stack_jobs(stack, hpc_site)
        assert job["state"] == "RUNNING"
        server_url = ready["url"].split("?")[0].rstrip("/") + "/"
        auth = {"Authorization": f"token {ready['token']}"}
        listing = requests.get(server_url + "api/contents/work", headers=auth, timeout=30)
        assert sorted(i["name"] for i in listing.json()["content"]) == kept
        readme = requests.get(server_url + "api/contents/README.md", headers=auth, timeout=30)
        assert "rees-dockerfile scenario, version 1.0" in readme.json()["content"]
        name = f"from-the-{run}-job.txt"
        put = requests.put(server_url + f"api/contents/work/{name}", headers=auth, timeout=30,
                           json={"type": "file", "format": "text", "content": run})
        assert put.status_code in (200, 201), put.text
        kept = sorted([*kept, name])
        server = server_url.rstrip("/").rsplit("/", 1)[-1]
        stack.hub_api("DELETE", f"/users/ada/servers/{server}", json={"remove": True})
        wait_for(lambda: stack_jobs(stack, hpc_site) == [], 60, "the job to leave the queue")

    # the next launch leaves its job running; Ctrl-C must not leave it behind
    assert build_stream(stack, sha, token)[-1].get("phase") == "ready"
    assert len(stack_jobs(stack, hpc_site)) == 1
    assert stack.stop() == 0
    assert stack_jobs(stack, hpc_site) == []
