"""Benchmark of builders/: dedupe under a burst, content-only rebuilds, DOI of a built tag.

Starts its own registry (Debian's docker-registry on loopback) and replay server, and
runs real repo2docker builds (FROM local/jupyter-base:6.1.1). repo2docker runs are
counted by a wrapper script that appends one line per start, so every count is the
number of real repo2docker processes.

Repositories are git scenarios (tests/harness/gitserver.py) served over smart HTTP on
loopback and reached under public GitHub names through ``NFDI_LAUNCHER_URL_REWRITES``;
targets come from ``fdo.resolve`` (tag -> commit) and are fetched with ``fdo.fetch``.

1. burst: 50 concurrent requests for one unbuilt image, spread over 5 BuildManager
   instances sharing one state dir (5 launcher workers on one host) -> builds, failures.
2. content-only commit (5 independent repositories, median reported): cold build of
   tag v1.0 (a RUN step doing ~13 s of CPU work here, no network, then COPY of the
   content), then tag v1.1 that changes only the notebook -> rebuild time / cold time.
   The RUN step stands in for an environment install, which takes minutes for real
   repositories. Each timing is the whole pipeline: fdo.fetch (git clone at the commit
   from a local smart-HTTP server) + name + lookup + repo2docker build + push.
3. DOI of the already-built tag: a Zenodo-GitHub-release-shaped archive target whose zip
   (``git archive`` of tag v1.0, GitHub's ``<owner>-<repo>-<sha7>/`` prefix) is served
   by the replay server; the target is fetched with fdo.fetch (download, md5 check,
   safe unpack, flatten) and handed to the builder -> repo2docker runs triggered.

Last line: one JSON object. ``BENCH_DEBUG=1`` also prints every build event with its time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builders import BuildEvent, BuildManager, Phase  # noqa: E402
from builders.executors.docker import DockerExecutor  # noqa: E402
from fdo.target import FileEntry, LaunchTarget  # noqa: E402
from tests.harness.gitserver import GitServer  # noqa: E402
from tests.harness.registry import start_registry  # noqa: E402
from tests.harness.replay import ReplayServer  # noqa: E402

VENV_BIN = Path(sys.executable).parent
BURST = 50
#: content-only measurements (independent repositories); the median ratio is reported
PAIRS = 5
WORKERS = 5
GH = "https://github.com/nfdi-bench"
#: like an environment install: copy the environment spec first, then a slow RUN step
SETUP_ENV = """\
import hashlib
h = b"x"
for _ in range(40_000_000):  # ~13 s of CPU work on this machine, no network
    h = hashlib.sha1(h).digest()
open("/tmp/env-ready", "wb").write(h)
"""
NOTEBOOK = '{{"cells": [{{"cell_type": "markdown", "metadata": {{}}, "source": ["{v}"]}}], "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}}'


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def dockerfile(nonce: str, steps: str) -> str:
    return (f"FROM local/jupyter-base:6.1.1\nENV BENCH_NONCE={nonce}\n{steps}"
            "COPY --chown=1000:1000 . /home/jovyan/\n")


def analysis(nonce: str) -> dict[str, object]:
    return {"head": "main", "commits": [
        {"message": "environment and notebook", "files": {
            "binder/Dockerfile": dockerfile(nonce, "COPY binder/setup_env.py /tmp/setup_env.py\n"
                                                   "RUN python3 /tmp/setup_env.py\n"),
            "binder/setup_env.py": SETUP_ENV, "index.ipynb": NOTEBOOK.format(v=1)}},
        {"message": "notebook only", "files": {"index.ipynb": NOTEBOOK.format(v=2)}}],
        "tags": {"v1.0": {"commit": 1, "annotated": True, "message": "Release 1.0"},
                 "v1.1": {"commit": 2}}}


def scenarios(root: Path, nonce: str) -> Path:
    """Git scenarios: ``burst`` (quick RUN) and ``analysis<i>`` (v1.0, v1.1 = notebook only)."""
    specs = {
        "burst": {"head": "main", "commits": [{"message": "burst", "files": {
            "binder/Dockerfile": dockerfile(nonce, "RUN sleep 3\n"), "index.ipynb": NOTEBOOK.format(v=1)}}],
            "tags": {"v1.0": {"commit": 1}}},
        **{f"analysis{i}": analysis(f"{nonce}-{i}") for i in range(PAIRS)},
    }
    for name, spec in specs.items():
        (root / name).mkdir(parents=True)
        (root / name / "scenario.yaml").write_text(yaml.safe_dump(spec))
    return root


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.nonce = uuid.uuid4().hex[:8]
        self.prefix = f"nfdi-bench-builders-{self.nonce}-"
        self.registry = start_registry(work / "registry")
        (work / "git").mkdir()
        self.git = GitServer(work / "git", scenarios(work / "scenarios", self.nonce))
        self.replay = ReplayServer()
        os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps({
            **self.replay.rewrites(),
            f"{GH}/burst": self.git.url_for("burst"),
            **{f"{GH}/analysis{i}": self.git.url_for(f"analysis{i}") for i in range(PAIRS)},
        })
        self.counter = work / "runs.txt"
        self.counter.touch()
        self.wrapper = work / "r2d-counting"
        self.wrapper.write_text(f'#!/bin/sh\necho run >> {self.counter}\nexec {VENV_BIN / "repo2docker"} "$@"\n')
        self.wrapper.chmod(0o755)

    def runs(self) -> int:
        return len(self.counter.read_text().splitlines())

    def manager(self) -> BuildManager:
        return BuildManager(
            registry_url=self.registry.url, state_dir=str(self.work / "state"),
            image_prefix=self.prefix, max_concurrent_builds=2,
            executor=DockerExecutor(repo2docker_command=[str(self.wrapper)]),
        )

    @staticmethod
    async def resolve(identifier: str) -> LaunchTarget:
        from fdo.resolve import resolve

        return await asyncio.to_thread(resolve, identifier)

    async def burst(self) -> tuple[int, int]:
        target = await self.resolve(f"{GH}/burst/tree/v1.0")
        managers = [self.manager() for _ in range(WORKERS)]
        before = self.runs()

        async def one(i: int) -> BuildEvent:
            events = [e async for e in managers[i % WORKERS].build(target)]
            return events[-1]

        finals = await asyncio.gather(*(one(i) for i in range(BURST)))
        failures = [e.message.strip() for e in finals if e.phase is not Phase.BUILT]
        images = {e.image for e in finals}
        log(f"burst: {BURST} requests -> {self.runs() - before} builds, {len(failures)} failures "
            f"{failures[:1]}, distinct images {len(images)}")
        return self.runs() - before, len(failures)

    async def timed(self, t: LaunchTarget) -> tuple[float, BuildEvent]:
        elapsed, last, _events = await self.timed_events(t)
        return elapsed, last

    async def timed_events(self, t: LaunchTarget) -> tuple[float, BuildEvent, list[BuildEvent]]:
        started = time.monotonic()
        events = []
        async for e in self.manager().build(t):
            events.append(e)
            if os.environ.get("BENCH_DEBUG"):
                log(f"    {time.monotonic() - started:6.2f} {e.phase.value} {e.message.rstrip()[:150]}")
        return time.monotonic() - started, events[-1], events

    async def content_rebuild(self) -> float:
        ratios = []
        for i in range(PAIRS):
            v10 = await self.resolve(f"{GH}/analysis{i}/tree/v1.0")
            v11 = await self.resolve(f"{GH}/analysis{i}/tree/v1.1")
            cold, ev1 = await self.timed(v10)
            warm, ev2 = await self.timed(v11)
            assert ev1.phase is Phase.BUILT and ev2.phase is Phase.BUILT, (ev1.message, ev2.message)
            assert not ev1.cached and not ev2.cached
            log(f"content-only commit {i}: cold {cold:.1f} s, rebuild {warm:.1f} s, ratio {warm / cold:.3f}")
            ratios.append(warm / cold)
        return sorted(ratios)[len(ratios) // 2]

    async def doi_of_tag(self) -> int:
        bare = self.work / "git" / "analysis0.git"
        commit = self.git.sha("analysis0", "refs/tags/v1.0^{}")
        zip_path = self.work / "release.zip"
        subprocess.run(["git", "-C", str(bare), "archive", "--format=zip",
                        f"--prefix=nfdi-bench-analysis-{commit[:7]}/", "-o", str(zip_path), "v1.0"],
                       check=True)
        data = zip_path.read_bytes()
        url = "https://zenodo.org/records/4242/files/nfdi-bench/analysis-v1.0.zip"
        self.replay.add(url, body=data, headers={"Content-Type": "application/zip"})
        doi = LaunchTarget(
            identifier="10.5281/zenodo.4242", kind="archive", provider="zenodo",
            source="https://zenodo.org/records/4242", ref="4242@v1.0",
            launch_path="v2/zenodo/10.5281/zenodo.4242",
            files=(FileEntry(name="nfdi-bench/analysis-v1.0.zip", url=url, size=len(data),
                             checksum="md5:" + hashlib.md5(data).hexdigest()),),  # noqa: S324 - Zenodo's checksum
            provenance={"git_tag": "v1.0", "git_commit": commit},
        )
        before = self.runs()
        elapsed, ev = await self.timed(doi)
        assert ev.phase is Phase.BUILT, ev.message
        log(f"DOI of built tag: {self.runs() - before} builds, cached={ev.cached}, {elapsed:.1f} s, {ev.image}")
        return self.runs() - before

    def close(self) -> None:
        self.registry.stop()
        self.git.close()
        self.replay.close()
        out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                             capture_output=True, text=True, check=False).stdout.split()
        mine = [r for r in out if self.prefix in r]
        if mine:
            subprocess.run(["docker", "rmi", "--force", *mine], capture_output=True, check=False)


async def run(bench: Bench) -> dict[str, object]:
    builds, failures = await bench.burst()
    ratio = await bench.content_rebuild()
    doi_builds = await bench.doi_of_tag()
    return {"burst_requests": BURST, "burst_builds": builds, "burst_failures": failures,
            "content_rebuild_ratio": round(ratio, 3), "doi_of_built_tag_builds": doi_builds}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="nfdi-bench-builders-"))
    bench = Bench(work)
    try:
        result = asyncio.run(run(bench))
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
