"""The hardened git wrapper against the suite's git smart-HTTP server on loopback.

Repositories are the scenarios ``fdo-net-demo`` (two commits on main, branch dev and tags
v1/light at the first) and ``fdo-submodules`` (one branch per submodule URL), served by
the session fixture ``git_server`` and reached through a trusted operator rewrite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fdo.errors import FetchError, NotFound, RefusedTarget
from fdo.net import Git, NetConfig, check_ref, parse_ls_remote
from tests.harness.gitserver import GitServer

BASE = "https://git.example.org/"
URL = f"{BASE}fdo-net-demo.git"


def make_git(server: GitServer, **kw: object) -> Git:
    return Git(NetConfig(url_rewrites={BASE: server.url + "/"}, **kw))


def demo_shas(server: GitServer) -> dict[str, str]:
    return {"first": server.sha("fdo-net-demo", "refs/heads/dev"),
            "second": server.sha("fdo-net-demo", "refs/heads/main"),
            "v1_tag": server.sha("fdo-net-demo", "refs/tags/v1")}


def test_ls_remote_heads_tags_peeled_and_symref(git_server: GitServer) -> None:
    shas = demo_shas(git_server)
    refs = make_git(git_server).ls_remote(URL)
    assert refs.head_symref == "refs/heads/main"
    assert refs.head_sha == shas["second"]
    assert refs.refs["refs/heads/dev"] == shas["first"]
    assert refs.refs["refs/tags/v1"] == shas["v1_tag"]  # the tag object
    assert refs.peeled["refs/tags/v1"] == shas["first"]  # the commit it points to
    assert refs.commit_of("refs/tags/v1") == refs.commit_of("refs/tags/light") == shas["first"]


@pytest.mark.parametrize("which", ["first", "second"])
def test_clone_at_exact_commit(git_server: GitServer, tmp_path: Path, which: str) -> None:
    shas = demo_shas(git_server)
    dest = tmp_path / "repo"
    make_git(git_server).clone_at(URL, shas[which], dest)
    assert (dest / "README.md").read_text() == "first\n"
    assert (dest / "Dockerfile").exists() == (which == "second")
    assert (dest / ".git" / "HEAD").read_text().strip() == shas[which]


def test_unknown_repo_and_commit_are_not_found(git_server: GitServer, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        make_git(git_server).ls_remote(f"{BASE}missing.git")
    with pytest.raises(NotFound):
        make_git(git_server).clone_at(URL, "0" * 40, tmp_path / "x")


def test_plain_http_loopback_is_refused_without_rewrite(git_server: GitServer) -> None:
    before = len(git_server.requests)
    with pytest.raises(RefusedTarget, match="loopback"):
        Git(NetConfig(allow_http=True)).ls_remote(git_server.url_for("fdo-net-demo"))
    assert len(git_server.requests) == before


def test_clone_into_non_empty_dir_is_refused(git_server: GitServer, tmp_path: Path) -> None:
    (tmp_path / "keep").write_text("mine")
    with pytest.raises(FetchError, match="not empty"):
        make_git(git_server).clone_at(URL, demo_shas(git_server)["first"], tmp_path)
    assert (tmp_path / "keep").read_text() == "mine"


def test_parse_ls_remote() -> None:
    out = "ref: refs/heads/main\tHEAD\naaa\tHEAD\naaa\trefs/heads/main\nbbb\trefs/tags/t\nccc\trefs/tags/t^{}\n"
    refs = parse_ls_remote(out)
    assert refs.head_symref == "refs/heads/main"
    assert refs.head_sha == "aaa"
    assert refs.refs == {"refs/heads/main": "aaa", "refs/tags/t": "bbb"}
    assert refs.peeled == {"refs/tags/t": "ccc"}


def test_check_ref_accepts_normal_names() -> None:
    assert check_ref("release/v1.2") == "release/v1.2"


@pytest.mark.parametrize(("branch", "allow", "outcome"), [
    ("https", False, "skipped"),            # https://git.example.org/fdo-net-demo.git
    ("https", True, "checked out"),
    ("relative", True, "checked out"),      # ../fdo-net-demo.git
    ("file", True, "local repositories"),   # file:///etc
    ("loopback", True, "loopback"),         # https://127.0.0.1:1/x.git
    ("ext", True, "'ext::'"),               # ext::sh -c touch% /tmp/nfdi-pwned
    ("option", True, "command-line option"),  # --upload-pack=touch /tmp/nfdi-pwned
])
def test_submodules_only_when_allowed_and_through_the_policy(
    git_server: GitServer, tmp_path: Path, branch: str, allow: bool, outcome: str,
) -> None:
    head = git_server.sha("fdo-submodules", f"refs/heads/{branch}")
    url = f"{BASE}fdo-submodules.git"
    dest = tmp_path / "repo"
    g = make_git(git_server, git_allow_submodules=allow)
    if outcome in ("skipped", "checked out"):
        g.clone_at(url, head, dest)
        assert (dest / "lib" / "README.md").exists() == (outcome == "checked out")
    else:
        with pytest.raises(RefusedTarget, match=outcome):
            g.clone_at(url, head, dest)
    assert not Path("/tmp/nfdi-pwned").exists()
