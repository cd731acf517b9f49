"""Git resolution against real repositories served by ``git http-backend`` (scenario repos).

Public forge URLs are mapped to the local scenarios with operator rewrites, exactly as an
air-gapped site would map them to a mirror.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest

from fdo.errors import NotFound
from fdo.resolve import Resolution
from tests.harness.gitserver import GitServer, Rewriter
from tests.harness.replay import ReplayServer

GH = "https://github.com/o/rees"


@pytest.fixture
def res(git_rewrites: Rewriter, resolution: Callable[..., Resolution]) -> Resolution:
    git_rewrites({
        GH: "rees-dockerfile",
        "https://github.com/o/amb": "ambiguous-ref",
        "https://gitlab.com/grp/sub/proj": "rees-dockerfile",
        "https://codeberg.org/o/rees": "rees-dockerfile",
        "https://git.example.org/amb.git": "ambiguous-ref",
    })
    return resolution()


def test_no_ref_uses_head_symref(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve(GH)
    main = git_server.sha("rees-dockerfile", "refs/heads/main")
    assert (target.kind, target.provider, target.ref) == ("git", "gh", main)
    assert target.launch_path == f"v2/gh/o/rees/{main}"
    assert target.ref_url == f"{GH}/tree/{main}"
    assert target.provenance["git_ref"] == "refs/heads/main"
    assert target.chain[-1].to == f"{GH}@{main}"


def test_annotated_tag_is_peeled_to_its_commit(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve("gh/o/rees/v1.0")
    assert target.ref == git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    assert target.provenance["git_tag_object"] == git_server.sha("rees-dockerfile", "refs/tags/v1.0")
    assert target.ref != target.provenance["git_tag_object"]


def test_lightweight_tag_and_release_page(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve(f"{GH}/releases/tag/v1.1")
    assert target.ref == git_server.sha("rees-dockerfile", "refs/tags/v1.1")
    assert target.provenance["git_ref"] == "refs/tags/v1.1"


def test_tree_url_splits_ref_from_path(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve(f"{GH}/tree/dev/binder")
    assert target.ref == git_server.sha("rees-dockerfile", "refs/heads/dev")
    assert target.provenance["path"] == "binder"


def test_full_sha_is_accepted_and_unadvertised_sha_warns(res: Resolution, git_server: GitServer) -> None:
    inner = git_server.sha("ambiguous-ref", "refs/heads/main~1")
    target = res.resolve(f"https://github.com/o/amb/commit/{inner}")
    assert target.ref == inner
    assert "not the tip of any branch or tag" in target.warnings[0]
    tip = git_server.sha("rees-dockerfile", "refs/heads/dev")
    assert res.resolve(f"gh/o/rees/{tip}").warnings == ()


def test_abbreviated_sha_needs_full_sha(res: Resolution, git_server: GitServer) -> None:
    first = git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    with pytest.raises(NotFound, match="full 40-character SHA"):
        res.resolve(f"gh/o/rees/{first[:10]}")


def test_branch_and_tag_with_same_name_give_choices(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve("gh/o/amb/v2")
    assert target.ambiguous
    assert target.launch_path == ""
    assert target.ref == ""
    assert [c.identifier for c in target.choices] == ["gh/o/amb/refs/heads/v2", "gh/o/amb/refs/tags/v2"]
    picked = res.resolve(target.choices[1].identifier)
    assert picked.ref == git_server.sha("ambiguous-ref", "refs/tags/v2^{}")
    assert not picked.ambiguous


def test_generic_git_url_spec_and_choices(res: Resolution, extra_rewrites: Rewriter,
                                          replay: ReplayServer) -> None:
    # the target's source (without .git) is checked like a download: a mirror for the host
    extra_rewrites({"https://git.example.org/": f"{replay.url}/git.example.org/"})
    spec = f"git/{quote('https://git.example.org/amb.git', safe='')}/v2"
    target = res.resolve(spec)
    assert len(target.choices) == 2
    assert target.choices[0].identifier.startswith("git/https%3A%2F%2Fgit.example.org%2Famb.git/refs/")


def test_branch_with_slash_and_same_commit_tag(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve("https://github.com/o/amb/tree/feature/x")
    assert target.ref == git_server.sha("ambiguous-ref", "refs/heads/feature/x")
    assert res.resolve("gh/o/amb/same").ref == git_server.sha("ambiguous-ref", "refs/heads/main")


def test_gitlab_subgroup_ui_url(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve("https://gitlab.com/grp/sub/proj/-/tree/v1.1")
    sha = git_server.sha("rees-dockerfile", "refs/tags/v1.1")
    assert (target.provider, target.ref) == ("gl", sha)
    assert target.launch_path == f"v2/gl/grp%2Fsub%2Fproj/{sha}"
    assert target.ref_url.endswith(f"/-/tree/{sha}")


def test_codeberg_src_tag(res: Resolution, git_server: GitServer) -> None:
    target = res.resolve("https://codeberg.org/o/rees/src/tag/v1.0")
    assert target.ref == git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    assert target.launch_path.startswith("v2/git/https%3A%2F%2Fcodeberg.org%2Fo%2Frees/")


def test_launch_path_resolves_to_the_same_commit(res: Resolution) -> None:
    target = res.resolve(f"{GH}/tree/dev")
    again = res.resolve(target.launch_path)
    assert again.ref == target.ref
    assert again.launch_path == target.launch_path


def test_unknown_branch_and_repository(res: Resolution, extra_rewrites: Rewriter, git_server: GitServer) -> None:
    with pytest.raises(NotFound, match="no branch or tag named 'nope'"):
        res.resolve("gh/o/rees/nope")
    extra_rewrites({"https://github.com/o/missing": f"{git_server.url}/missing.git"})
    with pytest.raises(NotFound):
        Resolution().resolve("https://github.com/o/missing")
