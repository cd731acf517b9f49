"""``nfdi-launcher build <identifier>`` on the scenario repositories, served by the local
git smart-HTTP server under public GitHub names (operator URL rewrites): resolve ->
fetch -> build -> push, and the conda scenarios up to the generated Dockerfile."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.builders.conftest import counting_repo2docker_config
from tests.harness.gitserver import GitServer, Rewriter
from tests.harness.registry import Registry

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
GH = "https://github.com/nfdi-test-builders"


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "nfdi-launcher"), "build", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.docker
@pytest.mark.registry
def test_rees_dockerfile_tag_builds_then_is_found_by_commit(
    git_rewrites: Rewriter, git_server: GitServer, registry: Registry, builder_images: str,
    tmp_path: Path,
) -> None:
    git_rewrites({f"{GH}/rees": "rees-dockerfile"})
    config, counter = counting_repo2docker_config(tmp_path)
    opts = ["-f", str(config), "--registry", registry.url, "--state-dir", str(tmp_path / "state"),
            "--image-prefix", builder_images]

    first = cli(*opts, f"{GH}/rees/tree/v1.0")
    assert first.returncode == 0, first.stderr[-3000:]
    image = first.stdout.strip().splitlines()[-1]
    assert image.startswith(f"{registry.host}/{builder_images}gh-")
    assert "@sha256:" in image
    assert "[built] Built image" in first.stderr
    assert counter.read_text().splitlines() == ["run"]

    sha = git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    again = cli(*opts, f"gh/nfdi-test-builders/rees/{sha}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip().splitlines()[-1] == image
    assert "Found built image" in again.stderr
    assert counter.read_text().splitlines() == ["run"]

    newer = cli(*opts, f"{GH}/rees/tree/v1.1")  # README changed: new content, new tag
    assert newer.returncode == 0, newer.stderr[-3000:]
    newer_image = newer.stdout.strip().splitlines()[-1]
    assert newer_image != image
    assert newer_image.split(":")[0] == image.split(":")[0]
    assert len(counter.read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("requirements-txt", ["requirements.txt", "pip install"]),
        ("environment-yml", ["src/environment.yml", "${MAMBA_EXE} env update"]),
        # runtime.txt python-3.11 selects the 3.11 conda lock file (escaped path in COPY)
        ("apt-postbuild", ["curl", "apt-get", "postBuild", "environment-2epy-2d3-2e11"]),
    ],
)
def test_conda_scenarios_dry_run_dockerfile(
    git_rewrites: Rewriter, scenario: str, expected: list[str]
) -> None:
    """conda-forge is unreachable here: these buildpacks are tested up to their Dockerfile."""
    git_rewrites({f"{GH}/{scenario}": scenario})
    out = cli("--dry-run", f"{GH}/{scenario}", timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("FROM docker.io/library/buildpack-deps")
    for text in expected:
        assert text in out.stdout, text
