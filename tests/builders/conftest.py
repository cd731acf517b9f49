"""Fixtures for builder tests: a unique image prefix, build contexts, managers, cleanup."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builders import BuildEvent, BuildManager
from builders.executors.docker import DockerExecutor
from fdo.target import LaunchTarget
from tests.harness.registry import Registry

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
#: every image the builder tests make starts with this (after the registry host)
PREFIX = f"nfdi-test-builders-{uuid.uuid4().hex[:6]}-"
DOCKERFILE = "FROM local/jupyter-base:6.1.1\n{steps}COPY --chown=1000:1000 . /home/jovyan/\n"
#: a fresh ENV before the steps, so BuildKit's cache never skips a test's RUN step
NONCE_ENV = "ENV NFDI_TEST_NONCE={nonce}\n"


def make_repo(root: Path, steps: str = "", notebook: str = "{}", base: str = "") -> Path:
    """A REES Dockerfile repository: ``binder/Dockerfile`` FROM the local base + COPY.

    ``base="scratch"`` makes a tiny image (for tests about pushing, not about Jupyter)."""
    (root / "binder").mkdir(parents=True, exist_ok=True)
    nonce = uuid.uuid4().hex
    if steps:
        steps = NONCE_ENV.format(nonce=nonce) + steps
    text = DOCKERFILE.format(steps=steps)
    if base:
        text = text.replace("FROM local/jupyter-base:6.1.1", f"FROM {base}").replace(
            "COPY --chown=1000:1000 .", "COPY .")
    (root / "binder" / "Dockerfile").write_text(text)
    (root / "index.ipynb").write_text(notebook)
    (root / "nonce.txt").write_text(nonce)  # fresh content = a real build
    return root


def counting_repo2docker_config(tmp_path: Path) -> tuple[Path, Path]:
    """``(config, counter)``: a launcher config file whose repo2docker is a wrapper that
    appends one ``run`` line to ``counter`` per start (the count spans processes)."""
    counter = tmp_path / "runs.txt"
    wrapper = tmp_path / "r2d-counting"
    wrapper.write_text(f'#!/bin/sh\necho run >> {counter}\nexec {VENV_BIN / "repo2docker"} "$@"\n')
    wrapper.chmod(0o755)
    config = tmp_path / "nfdi_launcher_config.py"
    config.write_text(f"c.DockerExecutor.repo2docker_command = [{str(wrapper)!r}]\n")
    return config, counter


def target_for(name: str, provider: str = "git") -> LaunchTarget:
    return LaunchTarget(identifier=name, kind="git", provider=provider,
                        source=f"https://example.org/{PREFIX}{name}", ref="0" * 40,
                        launch_path=f"v2/git/{name}")


async def collect(agen: Any) -> list[BuildEvent]:
    return [event async for event in agen]


@pytest.fixture(scope="session", autouse=False)
def builder_images() -> Iterator[str]:
    """The test prefix; removes every local image carrying it at the end of the session."""
    yield PREFIX
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=False).stdout.split()
    mine = [ref for ref in out if PREFIX in ref]
    if mine:
        subprocess.run(["docker", "rmi", "--force", *mine], capture_output=True, check=False)


@pytest.fixture
def manager_factory(
    registry: Registry, builder_images: str, tmp_path: Path
) -> Callable[..., BuildManager]:
    """``manager_factory(**traits)``: a BuildManager on the session registry."""

    def make(**traits: Any) -> BuildManager:
        executor_traits = {k: traits.pop(k) for k in list(traits) if k in ("build_timeout", "docker_host", "repo2docker_command")}
        traits.setdefault("registry_url", registry.url)
        traits.setdefault("state_dir", str(tmp_path / "state"))
        traits.setdefault("image_prefix", builder_images)
        return BuildManager(executor=DockerExecutor(**executor_traits), **traits)

    return make


@pytest.fixture
def scenario(tmp_path: Path) -> Callable[[str], Path]:
    """A copy of ``tests/scenarios/<name>`` (working tree only) in a temp dir."""

    def copy(name: str) -> Path:
        src = SCENARIOS / name
        if not src.is_dir():
            pytest.fail(f"scenario {name} missing under {SCENARIOS}")
        dest = tmp_path / name
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git"))
        return dest

    return copy
