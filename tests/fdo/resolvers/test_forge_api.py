"""GitHub/GitLab commit APIs (used only with a token) against the recorded BinderHub payloads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fdo.errors import NotFound
from fdo.providers import parse
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.harness.gitserver import Rewriter
from tests.harness.replay import ReplayServer

TOKENS = {"GitHubApiResolver": {"token": "ghp_testtoken"}, "GitLabApiResolver": {"token": "glpat-test"}}


@pytest.fixture(autouse=True)
def _github_mirrored(extra_rewrites: Rewriter, replay: ReplayServer) -> None:
    """Targets carry https://github.com/... sources, which are checked like downloads;
    here github.com is mirrored (no DNS), as api.github.com is."""
    extra_rewrites({"https://github.com/": f"{replay.url}/github.com/"})


def test_github_tag_resolves_through_the_api_with_token(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    sha = fixture_json("github-commit-zero-to-jupyterhub-k8s-0.9.1.json")["sha"]
    target = resolution(**TOKENS).resolve("gh/jupyterhub/zero-to-jupyterhub-k8s/0.9.1")
    assert (target.provider, target.ref) == ("gh", sha)
    assert target.launch_path == f"v2/gh/jupyterhub/zero-to-jupyterhub-k8s/{sha}"
    assert target.chain[-1].via == "github-api commits/0.9.1"
    sent = [r for r in replay.requests if r.path.startswith("/api.github.com/")]
    assert sent
    assert sent[0].headers.get("Authorization") == "Bearer ghp_testtoken"


def test_github_unknown_ref_422_is_not_found(resolution: Callable[..., Resolution]) -> None:
    with pytest.raises(NotFound, match="nosuchref"):
        resolution(**TOKENS).resolve("gh/jupyterhub/zero-to-jupyterhub-k8s/nosuchref")


def test_gitlab_tag_resolves_through_the_api(resolution: Callable[..., Resolution]) -> None:
    target = resolution(**TOKENS).resolve("https://gitlab.com/gitlab-org/gitlab-foss/-/tags/v10.0.6")
    assert target.ref == "b3344b7f17c335a817c5d7608c5e47fd7cabc023"
    assert target.launch_path == "v2/gl/gitlab-org%2Fgitlab-foss/b3344b7f17c335a817c5d7608c5e47fd7cabc023"


def test_without_token_the_api_is_not_used(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    res = resolution()
    ident = parse("gh/o/r/main")
    assert [p.name for p in res.plugins if p.accepts(ident)] == ["git"]


def test_abbreviated_sha_is_expanded_by_the_api(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    """Route CONSTRUCTED: the recorded commit answered for its abbreviated SHA (GitHub's
    commits/<ref> accepts branch, tag or SHA)."""
    body = fixture_json("github-commit-zero-to-jupyterhub-k8s-0.9.1.json")
    short = body["sha"][:10]
    replay.add(f"https://api.github.com/repos/jupyterhub/zero-to-jupyterhub-k8s/commits/{short}", body=body)
    target = resolution(**TOKENS).resolve(f"https://github.com/jupyterhub/zero-to-jupyterhub-k8s/commit/{short}")
    assert target.ref == body["sha"]
