"""The hardened git wrapper against a real git smart-HTTP server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from fdo.errors import NotFound, RefusedTarget
from fdo.net import Git, NetConfig, check_ref, parse_ls_remote
from tests.fdo.net import githttp
from tests.fdo.net.githttp import GitHttpServer

git_server = githttp.git_server  # the module-scoped git smart-HTTP server fixture

URL = "https://git.example.org/demo.git"


def make_git(server: GitHttpServer, **kw: object) -> Git:
    return Git(NetConfig(url_rewrites={"https://git.example.org/": server.url + "/"}, **kw))


def test_ls_remote_heads_tags_peeled_and_symref(git_server: tuple[GitHttpServer, dict[str, str]]) -> None:
    server, shas = git_server
    refs = make_git(server).ls_remote(URL)
    assert refs.head_symref == "refs/heads/main" and refs.head_sha == shas["second"]
    assert refs.refs["refs/heads/dev"] == shas["first"]
    assert refs.refs["refs/tags/v1"] == shas["v1_tag"]  # the tag object
    assert refs.peeled["refs/tags/v1"] == shas["first"]  # the commit it points to
    assert refs.commit_of("refs/tags/v1") == refs.commit_of("refs/tags/light") == shas["first"]


@pytest.mark.parametrize("which", ["first", "second"])
def test_clone_at_exact_commit(git_server: tuple[GitHttpServer, dict[str, str]], tmp_path: Path,
                               which: str) -> None:
    server, shas = git_server
    dest = tmp_path / "repo"
    make_git(server).clone_at(URL, shas[which], dest)
    assert (dest / "README.md").read_text() == "first\n"
    assert (dest / "Dockerfile").exists() == (which == "second")
    assert (dest / ".git" / "HEAD").read_text().strip() == shas[which]


def test_unknown_repo_and_commit_are_not_found(git_server: tuple[GitHttpServer, dict[str, str]],
                                               tmp_path: Path) -> None:
    server, _ = git_server
    with pytest.raises(NotFound):
        make_git(server).ls_remote("https://git.example.org/missing.git")
    with pytest.raises(NotFound):
        make_git(server).clone_at(URL, "0" * 40, tmp_path / "x")


def test_plain_http_loopback_is_refused_without_rewrite(
    git_server: tuple[GitHttpServer, dict[str, str]],
) -> None:
    server, _ = git_server
    before = len(server.requests)
    with pytest.raises(RefusedTarget, match="loopback"):
        Git(NetConfig(allow_http=True)).ls_remote(server.url + "/demo.git")
    assert len(server.requests) == before


def test_clone_into_non_empty_dir_is_refused(git_server: tuple[GitHttpServer, dict[str, str]],
                                            tmp_path: Path) -> None:
    server, shas = git_server
    (tmp_path / "keep").write_text("mine")
    with pytest.raises(Exception, match="not empty"):
        make_git(server).clone_at(URL, shas["first"], tmp_path)
    assert (tmp_path / "keep").read_text() == "mine"


def test_parse_ls_remote() -> None:
    out = "ref: refs/heads/main\tHEAD\naaa\tHEAD\naaa\trefs/heads/main\nbbb\trefs/tags/t\nccc\trefs/tags/t^{}\n"
    refs = parse_ls_remote(out)
    assert refs.head_symref == "refs/heads/main" and refs.head_sha == "aaa"
    assert refs.refs == {"refs/heads/main": "aaa", "refs/tags/t": "bbb"}
    assert refs.peeled == {"refs/tags/t": "ccc"}


def test_check_ref_accepts_normal_names() -> None:
    assert check_ref("release/v1.2") == "release/v1.2"


@pytest.mark.parametrize(("sub_url", "allow", "outcome"), [
    ("https://git.example.org/demo.git", False, "skipped"),
    ("https://git.example.org/demo.git", True, "checked out"),
    ("../demo.git", True, "checked out"),
    ("file:///etc", True, "local repositories"),
    ("https://127.0.0.1:1/x.git", True, "loopback"),
    ("ext::sh -c touch% /tmp/nfdi-pwned", True, "'ext::'"),
    ("--upload-pack=touch /tmp/nfdi-pwned", True, "command-line option"),
])
def test_submodules_only_when_allowed_and_through_the_policy(
    git_server: tuple[GitHttpServer, dict[str, str]], tmp_path: Path,
    sub_url: str, allow: bool, outcome: str,
) -> None:
    server, shas = git_server
    name = f"super{abs(hash((sub_url, allow))) % 10**8}"
    head = githttp.make_super(server.root, sub_url, name)
    dest = tmp_path / "repo"
    g = make_git(server, git_allow_submodules=allow)
    if outcome in ("skipped", "checked out"):
        g.clone_at(f"https://git.example.org/{name}.git", head, dest)
        assert (dest / "lib" / "README.md").exists() == (outcome == "checked out")
    else:
        with pytest.raises(RefusedTarget, match=outcome):
            g.clone_at(f"https://git.example.org/{name}.git", head, dest)
    assert not Path("/tmp/nfdi-pwned").exists()
