"""Images carry their provenance: OCI labels from the content (never the clock), build facts
in the ``built`` event, and a rebuild of the same content from BuildKit's cache gives the same
image digest."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from builders import BuildManager, Phase, naming
from builders.provenance import base_image_from_log, chain_digest, image_labels
from builders.registry import ACCEPT
from fdo.target import Hop, LaunchTarget
from tests.builders.conftest import PREFIX, collect, make_repo
from tests.harness.registry import Registry

COMMIT_DATE = "2024-02-03T04:05:06+00:00"


def git_target(name: str, commit: str, tag: str = "") -> LaunchTarget:
    return LaunchTarget(identifier=f"https://example.org/{PREFIX}{name}/tree/{tag or 'main'}",
                        kind="git", provider="git", source=f"https://example.org/{PREFIX}{name}",
                        ref=commit, launch_path=f"v2/git/{name}/{commit}",
                        chain=(Hop("id", commit, "git ls-remote"),),
                        provenance={"git_tag": tag} if tag else {})


def test_labels_come_from_the_content_only() -> None:
    target = git_target("labels", "1" * 40, tag="v1.2")
    labels = image_labels(target, "sha256:" + "c" * 64, COMMIT_DATE)
    assert labels == {
        "org.opencontainers.image.source": target.source,
        "org.opencontainers.image.revision": "1" * 40,
        "org.opencontainers.image.version": "v1.2",
        "org.opencontainers.image.created": COMMIT_DATE,
        "de.nfdi.launcher.identifier": target.identifier,
        "de.nfdi.launcher.chain-digest": chain_digest(target.identifier, [h.to_json() for h in target.chain]),
        "de.nfdi.launcher.content-digest": "sha256:" + "c" * 64,
    }
    assert image_labels(target, "sha256:x", COMMIT_DATE) == image_labels(target, "sha256:x", COMMIT_DATE)
    no_date = image_labels(git_target("labels", "2" * 40), "sha256:x")
    assert "org.opencontainers.image.created" not in no_date  # unknown: omitted, never the clock
    assert no_date["org.opencontainers.image.version"] == "2" * 40


@pytest.mark.parametrize("line,found", [
    ("#4 [1/2] FROM docker.io/local/jupyter-base:6.1.1\n", ("docker.io/local/jupyter-base:6.1.1", "")),
    ("#5 [stage-1 1/3] FROM 127.0.0.1:5000/base:1@sha256:" + "a" * 64,
     ("127.0.0.1:5000/base:1", "sha256:" + "a" * 64)),
    ("#6 [2/2] COPY --chown=1000:1000 . /home/jovyan/", None),
    ("FROM evil", None),
])
def test_base_image_from_buildkit_lines(line: str, found: tuple[str, str] | None) -> None:
    assert base_image_from_log(line) == found


def _git_commit(repo: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": COMMIT_DATE,
           "GIT_COMMITTER_DATE": COMMIT_DATE, "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main", "."], ["add", "-A"], ["commit", "-q", "-m", "c"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


def image_config(registry: Registry, image: str) -> dict[str, object]:
    name, _, digest = image.partition("@")
    repo = name[len(registry.host) + 1:].rpartition(":")[0]
    manifest = requests.get(f"{registry.url}/v2/{repo}/manifests/{digest}", headers={"Accept": ACCEPT},
                            timeout=10).json()
    blob = requests.get(f"{registry.url}/v2/{repo}/blobs/{manifest['config']['digest']}", timeout=10)
    return dict(json.loads(blob.content)["config"])


def delete_everywhere(registry: Registry, manager: BuildManager, image: str) -> None:
    """Delete the image's manifest by digest from its repository and the content alias."""
    name, _, digest = image.partition("@")
    for ref in (name, manager.alias_name(name)):
        repo = ref[len(registry.host) + 1:].rpartition(":")[0]
        r = requests.delete(f"{registry.url}/v2/{repo}/manifests/{digest}", timeout=10)
        assert r.status_code == 202, (repo, r.status_code, r.text)


@pytest.mark.docker
@pytest.mark.registry
async def test_built_image_carries_labels_and_a_cached_rebuild_has_the_same_digest(
        manager_factory: Callable[..., BuildManager], registry: Registry, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit = _git_commit(repo)
    target = git_target("prov", commit, tag="v1.0")
    manager = manager_factory()
    events = await collect(manager.build(target, context_dir=repo))
    built = events[-1]
    assert built.phase is Phase.BUILT, [e.message for e in events[-5:]]
    assert built.image is not None
    facts = built.extra["build"]
    assert facts["content_digest"] == naming.content_digest(repo)
    assert facts["repo2docker_version"]
    assert facts["base_image"] == "docker.io/local/jupyter-base:6.1.1"
    assert built.extra["image_digest"] == built.image.partition("@")[2]
    labels = image_config(registry, built.image)["Labels"]
    assert isinstance(labels, dict)
    assert labels["org.opencontainers.image.revision"] == commit
    assert labels["org.opencontainers.image.source"] == target.source
    assert labels["org.opencontainers.image.version"] == "v1.0"
    assert labels["org.opencontainers.image.created"] == COMMIT_DATE  # the commit's, not the clock's
    assert labels["de.nfdi.launcher.content-digest"] == facts["content_digest"]
    assert labels["de.nfdi.launcher.identifier"] == target.identifier

    # gone from the registry; a fresh builder makes it again from the same tree: BuildKit's
    # cache and labels without a clock give the very same digest
    delete_everywhere(registry, manager, built.image)
    fresh = manager_factory()
    again = await collect(fresh.build(target, context_dir=repo))
    assert again[-1].phase is Phase.BUILT, [e.message for e in again[-5:]]
    assert fresh.repo2docker_runs == 1
    assert not again[-1].cached
    assert again[-1].image == built.image
