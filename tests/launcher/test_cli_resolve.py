"""The ``nfdi-launcher resolve|fetch`` contract, run as the real console script.

exit 0 + target JSON; exit 3 + JSON with choices; exit 2 + ONE stderr line ``error: ...``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.harness.gitserver import GitServer, Rewriter

CLI = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "nfdi-launcher")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=dict(os.environ))


@pytest.fixture
def repos(git_rewrites: Rewriter) -> None:
    git_rewrites({"https://github.com/o/rees": "rees-dockerfile", "https://github.com/o/amb": "ambiguous-ref"})


def test_resolve_prints_target_json_and_exits_0(repos: None, tmp_path: Path, git_server: GitServer) -> None:
    proc = run("resolve", "https://github.com/o/rees/tree/v1.0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    sha = git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    assert data["ref"] == sha
    assert data["launch_path"] == f"v2/gh/o/rees/{sha}"
    assert {"identifier", "kind", "provider", "source", "files", "chain", "title", "warnings", "choices"} <= set(data)


def test_resolve_archive_record(rewrites_env: dict[str, str], tmp_path: Path) -> None:
    proc = run("resolve", "https://zenodo.org/records/7834392", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "archive"


def test_ambiguous_exits_3_with_choices(repos: None, tmp_path: Path) -> None:
    proc = run("resolve", "gh/o/amb/v2", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert len(json.loads(proc.stdout)["choices"]) == 2


@pytest.mark.parametrize("identifier", [
    "gh/../..",                      # malformed
    "ext::sh -c touch% /tmp/x",      # refused transport
    "--upload-pack=touch /tmp/x",    # option injection
    "swh:1:cnt:" + "a" * 40,        # unsupported
    "gh/o/rees/no-such-branch",      # not found
    "https://127.0.0.1/o/r.git",     # refused by the URL policy
])
def test_errors_exit_2_with_one_error_line(identifier: str, repos: None, tmp_path: Path) -> None:
    proc = run("resolve", "--", identifier, cwd=tmp_path) if identifier.startswith("-") else \
        run("resolve", identifier, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_fetch_checks_out_the_exact_commit(repos: None, tmp_path: Path) -> None:
    dest = tmp_path / "content"
    proc = run("fetch", "gh/o/rees/v1.0", str(dest), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "version 1.0" in (dest / "README.md").read_text()
    assert (dest / "binder" / "Dockerfile").read_text().startswith("FROM local/jupyter-base:6.1.1")


def test_help_all_lists_resolver_configurables(tmp_path: Path) -> None:
    proc = run("resolve", "--help-all", cwd=tmp_path)
    assert proc.returncode == 0
    for name in ("ResolverConfig.resolvers", "NetConfig.url_rewrites", "SwhResolver.vault_max_wait",
                 "GitHubApiResolver.token"):
        assert name in proc.stdout
