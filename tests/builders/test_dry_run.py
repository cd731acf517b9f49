"""Conda-based buildpacks, up to the generated Dockerfile.

repo2docker's standard buildpacks install Python/R through micromamba from
conda-forge, which is unreachable here, so these scenarios cannot build to the end
(see docs/builders.md). What we can check for real is what repo2docker would build:
its buildpack choice and the Dockerfile it generates offline.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from builders import BuildManager
from fdo.target import LaunchTarget

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def dockerfile(path: Path) -> str:
    import asyncio

    return asyncio.run(BuildManager().dockerfile(LaunchTarget.from_directory(path), context_dir=path))


def test_requirements_txt_and_runtime_txt(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==2.1.0\n")
    (tmp_path / "runtime.txt").write_text("python-3.11\n")
    text = dockerfile(tmp_path)
    assert "requirements.txt" in text
    assert "pip install" in text
    # runtime.txt picks the conda lock file of Python 3.11 (escaped path in the COPY line)
    assert "environment-2epy-2d3-2e11-2dlinux" in text


def test_environment_yml(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.12\n  - pandas\n")
    text = dockerfile(tmp_path)
    assert "environment.yml" in text
    assert "${MAMBA_EXE} env update" in text  # conda-based: cannot finish offline


def test_apt_txt_and_postbuild(tmp_path: Path) -> None:
    binder = tmp_path / "binder"
    binder.mkdir()
    (binder / "apt.txt").write_text("graphviz\nlibxml2-dev\n")
    (binder / "postBuild").write_text("#!/bin/bash\necho done > ~/marker\n")
    (binder / "requirements.txt").write_text("requests\n")
    text = dockerfile(tmp_path)
    assert "graphviz" in text
    assert "libxml2-dev" in text
    assert "apt-get" in text
    assert "postBuild" in text


def test_dockerfile_repo_uses_its_own_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM local/jupyter-base:6.1.1\nRUN echo unique-marker-42\n")
    assert "unique-marker-42" in dockerfile(tmp_path)


def test_cli_dry_run_prints_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - xarray\n")
    out = subprocess.run([str(VENV_BIN / "nfdi-launcher"), "build", "--dry-run", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("FROM ")
    assert "environment.yml" in out.stdout


def test_cli_reports_missing_identifier_clearly() -> None:
    out = subprocess.run([str(VENV_BIN / "nfdi-launcher"), "build"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "usage: nfdi-launcher build" in out.stderr
