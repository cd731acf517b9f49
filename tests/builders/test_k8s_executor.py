"""The Kubernetes executor's orchestration: two launcher replicas, one build pod.

NOT RUN AGAINST KUBERNETES. The pod API here is the in-memory stand-in of
tests/builders/k8s_standin.py (no API server can run on this machine, and no recording of
this conversation could be found). Everything else is real: the builder image built from
helm/Dockerfile, the build pod's init container downloading the context from the real
registry, repo2docker in the main container building through the engine's socket and
pushing to the registry, two BuildManagers (as two replicas: separate state directories,
so no host lock is shared) asking for the same image at the same time.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from builders import BuildManager, Phase
from builders.executors import buildpod
from builders.executors.base import BuildFailed, BuildRequest
from builders.executors.kubernetes import KubernetesExecutor
from tests.builders.conftest import collect, make_repo, target_for
from tests.builders.k8s_standin import DockerPods
from tests.harness.registry import Registry
from tests.helm.images import build_image

pytestmark = [pytest.mark.docker, pytest.mark.registry]
SECRET = "registry-push"


@pytest.fixture(scope="session")
def builder_image() -> str:
    return build_image("builder")


def replica(api: DockerPods, registry: Registry, image: str, prefix: str, state: Path) -> BuildManager:
    executor = KubernetesExecutor(namespace="builds", builder_image=image, registry_url=registry.url,
                                  registry_secret=SECRET, builder_pull_policy="Never",
                                  poll_interval=0.2, build_timeout=600)
    executor._pod_api = api  # type: ignore[assignment]  # the stand-in, see module docstring
    return BuildManager(executor=executor, registry_url=registry.url, state_dir=str(state),
                        image_prefix=prefix)


async def test_two_replicas_share_one_build_pod_and_its_log(
        registry: Registry, builder_image: str, builder_images: str, tmp_path: Path) -> None:
    api = DockerPods({SECRET: {".dockerconfigjson": json.dumps({"auths": {}}).encode()}}, tmp_path)
    repo = make_repo(tmp_path / "repo", steps="RUN echo building-in-a-pod\n")
    target = target_for("k8s-two-replicas")
    first = replica(api, registry, builder_image, builder_images, tmp_path / "replica-1")
    second = replica(api, registry, builder_image, builder_images, tmp_path / "replica-2")

    a, b = await asyncio.wait_for(asyncio.gather(
        collect(first.build(target, context_dir=repo)), collect(second.build(target, context_dir=repo))), 600)

    for events in (a, b):
        assert events[-1].phase is Phase.BUILT, "".join(e.message for e in events)
    assert a[-1].image == b[-1].image
    assert a[-1].image is not None and "@sha256:" in a[-1].image
    # one pod was created; the other replica's create was refused and it followed
    accepted = [name for name, ok in api.create_calls if ok]
    assert len(accepted) == 1
    assert len(api.create_calls) == 2
    assert accepted[0] == buildpod.build_pod_name(a[-1].image)
    followed = [e for e in (*a, *b) if "being built already" in e.message]
    assert len(followed) == 1
    # both saw the build's own output (the RUN step ran once, in the pod)
    for events in (a, b):
        assert any("building-in-a-pod" in e.message for e in events)
    # the replica that created the pod removed it
    assert api.deleted == accepted
    assert registry.session().head(
        f"{registry.url}/v2/{a[-1].image.split('/', 1)[1].split(':')[0]}/manifests/{a[-1].image.rsplit('@', 1)[1]}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
                           "application/vnd.docker.distribution.manifest.v2+json"}).status_code == 200


async def test_a_failing_build_reports_the_pods_reason_and_is_removed(
        registry: Registry, builder_image: str, builder_images: str, tmp_path: Path) -> None:
    api = DockerPods({SECRET: {".dockerconfigjson": json.dumps({"auths": {}}).encode()}}, tmp_path)
    repo = make_repo(tmp_path / "repo", steps="RUN echo about-to-fail && exit 3\n")
    manager = replica(api, registry, builder_image, builder_images, tmp_path / "replica")
    events = await asyncio.wait_for(collect(manager.build(target_for("k8s-fails"), context_dir=repo)), 600)
    last = events[-1]
    assert last.phase is Phase.FAILED
    assert "build pod failed: exit code" in last.message
    assert any("about-to-fail" in e.message for e in events)
    assert api.deleted == [name for name, ok in api.create_calls if ok]


async def test_a_context_the_pod_cannot_fetch_fails_in_the_init_container(
        registry: Registry, builder_image: str, builder_images: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The pod is told a digest that is not in the registry: the init container fails and
    the reason reaches the user; repo2docker never starts."""
    api = DockerPods({SECRET: {".dockerconfigjson": json.dumps({"auths": {}}).encode()}}, tmp_path)
    manager = replica(api, registry, builder_image, builder_images, tmp_path / "replica")
    executor = manager.executor
    assert isinstance(executor, KubernetesExecutor)

    async def missing_blob(request: BuildRequest) -> buildpod.ContextBlob:
        return buildpod.ContextBlob(registry.url, "nfdi-test/contexts", "sha256:" + "0" * 64)

    monkeypatch.setattr(executor, "_upload", missing_blob)
    image = f"{registry.host}/{builder_images}k8s-no-context:1"
    request = BuildRequest(context_dir=make_repo(tmp_path / "repo"), image=image, push=True)
    with pytest.raises(BuildFailed, match=r"fetching the build context failed: exit code 1"):
        await asyncio.wait_for(collect(executor.run(request)), 300)
    assert api.deleted == [buildpod.build_pod_name(image)]
