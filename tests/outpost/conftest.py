"""Fixtures of the Outpost tests: a real Outpost process and a second local image."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.outpost.outpost_proc import OutpostProc, derived_image, make_outpost


@pytest.fixture
def outpost_factory(tmp_path_factory: pytest.TempPathFactory,
                    ) -> Iterator[Callable[..., OutpostProc]]:
    """Start Outposts (keyword args of make_outpost); their containers/volumes are removed."""
    made: list[OutpostProc] = []

    def make(**kwargs: Any) -> OutpostProc:
        proc = make_outpost(tmp_path_factory.mktemp("outpost"), **kwargs)
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.cleanup()


@pytest.fixture
def outpost(outpost_factory: Callable[..., OutpostProc]) -> OutpostProc:
    return outpost_factory()


@pytest.fixture(scope="session")
def alt_image() -> Iterator[str]:
    """A second image (base + a marker file in the home), to launch "a different image"."""
    tag = derived_image("alt", '["jupyterhub-singleuser"]')
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def crash_image() -> Iterator[str]:
    """An image whose server dies at once, saying why on stderr (exit status 3)."""
    tag = derived_image("crash", '["sh", "-c", "echo cannot start: no notebook here >&2; exit 3"]')
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)


def docker_exec(container: str, script: str) -> str:
    out = subprocess.run(["docker", "exec", container, "sh", "-c", script],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


