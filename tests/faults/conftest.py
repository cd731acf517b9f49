"""Faults (issue 10, R3) on real services: each test breaks one part while a user waits,
expects ONE clear ``failed`` event or error, nothing stale (locks, containers, half-pushed
tags), and a retry that succeeds.

Shared here: a git server with this session's own repositories (salted, so no earlier run
built them), a repo2docker wrapper that counts its runs, and helpers to follow a job of the
launcher's ``/api/v1``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.builders.conftest import builder_images  # noqa: F401 -- a fixture for these tests
from tests.harness.gitserver import GitServer
from tests.harness.hub import VENV_BIN
from tests.harness.launcher import LauncherProc

#: the public-looking URL of each repository (reached through the operator rewrites)
PUBLIC = "https://git.example.org/faults/"
#: repositories: each a Dockerfile the build of which takes a known time
REPOS = {
    "slow": "FROM local/debian:bookworm\nRUN echo {nonce} > /built && sleep 25\n",
    # the same step for another test: once "slow" was built, BuildKit's layer cache would
    # finish that step at once and the build could be ready before the launcher stops
    "stopped": "FROM local/debian:bookworm\nRUN echo {nonce} > /built && sleep 25\n",
    "quick": "FROM local/debian:bookworm\nRUN echo {nonce} > /built\n",
    "pushed": "FROM local/debian:bookworm\nRUN echo {nonce} > /built && sleep 4\n",
    "engine": "FROM local/debian:bookworm\nRUN echo {nonce} > /built && sleep 20\n",
}


@dataclass
class FaultRepos:
    server: GitServer
    nonce: str  # in every repository's RUN step, so its processes can be found

    def step_marker(self, name: str) -> str:
        return f"{name}-{self.nonce}"

    def public(self, name: str) -> str:
        return PUBLIC + name

    def rewrites(self) -> dict[str, str]:
        return {k: v for name in REPOS for k, v in self.server.rewrite(self.public(name), name).items()}


@pytest.fixture(scope="session")
def fault_repos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRepos]:
    root = tmp_path_factory.mktemp("fault-scenarios")
    nonce = secrets.token_hex(6)
    for name, dockerfile in REPOS.items():
        (root / name).mkdir()
        spec = {"head": "main", "commits": [{"message": name, "files": {
            "Dockerfile": dockerfile.format(nonce=f"{name}-{nonce}")}}]}
        (root / name / "scenario.yaml").write_text(yaml.safe_dump(spec))
    server = GitServer(tmp_path_factory.mktemp("fault-git"), root)
    yield FaultRepos(server, nonce)
    server.close()


@pytest.fixture
def counting_r2d(tmp_path: Path) -> tuple[Path, Path]:
    """(wrapper, runs file): the wrapper appends its pid to the file, then runs repo2docker."""
    runs = tmp_path / "r2d-runs.txt"
    runs.touch()
    wrapper = tmp_path / "r2d-counting"
    wrapper.write_text(f'#!/bin/sh\necho $$ >> {runs}\nexec {VENV_BIN / "repo2docker"} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, runs


def r2d_runs(runs: Path) -> int:
    return len(runs.read_text().split())


def start_job(launcher: LauncherProc, kind: str, identifier: str, **body: Any) -> str:
    r = requests.post(launcher.url + f"api/v1/{kind}", json={"id": identifier, **body}, timeout=60)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def job(launcher: LauncherProc, kind: str, job_id: str) -> dict[str, Any]:
    r = requests.get(launcher.url + f"api/v1/{kind}/{job_id}", timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_job(launcher: LauncherProc, kind: str, job_id: str, until: Any = None,
             timeout: float = 300) -> dict[str, Any]:
    """Poll the job until ``until(job)`` (default: it finished); its last state."""
    deadline = time.monotonic() + timeout
    while True:
        state = job(launcher, kind, job_id)
        if (until(state) if until else state["status"] != "running"):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id}: {state['status']}, last events {state['events'][-3:]}")
        time.sleep(0.2)


def image_of(state: dict[str, Any]) -> str:
    """The image a build job names in its "Content ... -> image ..." event."""
    for ev in state["events"]:
        message = str(ev.get("message", ""))
        if " -> image " in message:
            return message.split(" -> image ", 1)[1].strip()
    raise AssertionError(f"no image named in {state['events'][-5:]}")


def failures(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [ev for ev in state["events"] if ev.get("phase") == "failed"]


def running_steps(marker: str) -> list[int]:
    """Pids of build steps whose command line holds *marker* (RUN steps are host processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "sleep" in cmdline:
                found.append(int(entry.name))
    return found
