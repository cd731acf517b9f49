"""Self-test of the git smart-HTTP harness: real ``git ls-remote`` and ``git clone`` against it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.gitserver import GIT, GitServer


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run([GIT, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/tmp",
                               "GIT_TERMINAL_PROMPT": "0"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_ls_remote_shows_scenario_tags_and_head(git_server: GitServer) -> None:
    out = _git("ls-remote", "--symref", "--", git_server.url_for("rees-dockerfile"))
    assert "ref: refs/heads/main\tHEAD" in out.splitlines()
    lines = {name: sha for sha, name in (line.split("\t") for line in out.splitlines())
             if not sha.startswith("ref:")}
    assert "refs/tags/v1.0^{}" in lines  # annotated: peeled line present
    assert "refs/tags/v1.1^{}" not in lines  # lightweight
    assert lines["refs/tags/v1.0^{}"] != lines["refs/tags/v1.1"]
    assert lines["refs/heads/dev"] != lines["refs/heads/main"]
    assert lines["refs/heads/main"] == lines["refs/tags/v1.1"]


def test_shas_are_deterministic(git_server: GitServer, tmp_path: Path) -> None:
    from tests.harness.gitserver import SCENARIOS, build_repo

    build_repo(SCENARIOS / "rees-dockerfile", tmp_path / "again.git")
    again = _git("rev-parse", "refs/heads/main", cwd=tmp_path / "again.git").strip()
    assert again == git_server.sha("rees-dockerfile", "refs/heads/main")


def test_clone_over_smart_http(git_server: GitServer, tmp_path: Path) -> None:
    _git("clone", "-q", "--", git_server.url_for("rees-dockerfile"), str(tmp_path / "c"))
    assert (tmp_path / "c" / "binder" / "Dockerfile").read_text().startswith("FROM local/jupyter-base:6.1.1")
    assert "1.1" in (tmp_path / "c" / "README.md").read_text()


def test_ambiguous_scenario_has_branch_and_tag_v2(git_server: GitServer) -> None:
    out = _git("ls-remote", "--", git_server.url_for("ambiguous-ref"), "v2")
    names = {line.split("\t")[1] for line in out.splitlines()}
    assert {"refs/heads/v2", "refs/tags/v2"} <= names


def test_gitlinks_point_at_another_scenario_and_requests_are_logged(git_server: GitServer) -> None:
    tree = _git("ls-tree", "refs/heads/https", cwd=git_server.root / "fdo-submodules.git")
    demo_main = git_server.sha("fdo-net-demo", "refs/heads/main")
    assert f"160000 commit {demo_main}\tlib" in tree
    before = len(git_server.requests)
    _git("ls-remote", "--", git_server.url_for("fdo-submodules"))
    assert len(git_server.requests) > before
