"""``nfdi-launcher build``: real processes, one repo2docker run for two concurrent commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.builders.conftest import counting_repo2docker_config, make_repo
from tests.harness.registry import Registry

pytestmark = [pytest.mark.docker, pytest.mark.registry]

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def test_two_concurrent_commands_share_one_build(
    registry: Registry, builder_images: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN sleep 4\n")
    config, counter = counting_repo2docker_config(tmp_path)
    cmd = [str(VENV_BIN / "nfdi-launcher"), "build", "-f", str(config), "--registry", registry.url,
           "--state-dir", str(tmp_path / "state"), "--image-prefix", builder_images, str(repo)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    lasts = {out.strip().splitlines()[-1] for out, _err in outs}
    assert len(lasts) == 1
    image = lasts.pop()
    assert image.startswith(f"{registry.host}/{builder_images}")
    assert "@sha256:" in image
    assert counter.read_text().splitlines() == ["run"]
    assert any("following its log" in err for _out, err in outs)
    # the follower saw the builder's log, not just the result
    assert all("RUN sleep 4" in err for _out, err in outs)

    # a third run finds the image: no repo2docker at all
    third = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert third.returncode == 0
    assert third.stdout.strip().splitlines()[-1] == image
    assert "Found built image" in third.stderr
    assert counter.read_text().splitlines() == ["run"]


def test_failed_build_exit_status_and_message(registry: Registry, builder_images: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", steps="RUN exit 7\n")
    out = subprocess.run(
        [str(VENV_BIN / "nfdi-launcher"), "build", "--registry", registry.url, "--state-dir",
         str(tmp_path / "state"), "--image-prefix", builder_images, str(repo)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 1
    assert out.stdout == ""
    assert "[failed] Build failed" in out.stderr
    assert "exit code: 7" in out.stderr
