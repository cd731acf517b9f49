"""Build pods as data (builders/executors/buildpod.py): names, manifests, outcomes.

Pure functions, no API server. Manifests are validated strictly against the official
Kubernetes 1.30 and 1.33 schemas (kubernetes-validate). The pod statuses below are written
by hand in the shape the API returns (field names from the Pod schema); a status recorded
from a real server is used in tests/builders/test_k8s_replay.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from builders.executors import buildpod
from builders.executors.base import BuildFailed, BuildRequest
from builders.executors.kubernetes import KubernetesExecutor

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
IMAGE = "registry.example.org/nfdi/gh-jupyterhub-2dbinder-2dexamples-4b1c2d:c0ffee1234abcd"


def executor(**traits: Any) -> KubernetesExecutor:
    traits.setdefault("namespace", "builds")
    traits.setdefault("builder_image", "registry.example.org/nfdi/builder@sha256:" + "a" * 64)
    traits.setdefault("registry_url", "https://registry.example.org")
    traits.setdefault("registry_secret", "registry-push")
    return KubernetesExecutor(**traits)


def request(image: str = IMAGE, **kw: Any) -> BuildRequest:
    return BuildRequest(context_dir=Path("/tmp/ctx"), image=image, push=True,
                        labels={"nfdi-launcher.source": "https://github.com/o/r"}, **kw)


def manifest_for(ex: KubernetesExecutor, req: BuildRequest) -> dict[str, Any]:
    _host, repo = "registry.example.org", req.image.split("/", 1)[1].rsplit(":", 1)[0]
    blob = buildpod.ContextBlob(ex.registry_url, repo, "sha256:" + "b" * 64)
    return buildpod.build_pod_manifest(ex.pod_spec(req, blob))


@pytest.mark.parametrize("image", [
    IMAGE,
    IMAGE + "@sha256:" + "c" * 64,
    "127.0.0.1:5000/nfdi-launcher/" + "x" * 200 + ":" + "f" * 40,
    "localhost:5000/UPPER_case/name:tag",
    "registry.example.org/a/b",
])
def test_pod_name_is_a_dns_label_derived_from_the_image(image: str) -> None:
    name = buildpod.build_pod_name(image)
    assert len(name) <= 63
    assert DNS_LABEL.fullmatch(name), name
    assert name == buildpod.build_pod_name(image)  # every replica computes the same


def test_pod_names_differ_per_image_and_ignore_the_digest() -> None:
    tags = [f"{IMAGE.rsplit(':', 1)[0]}:{t}" for t in ("a" * 40, "a" * 39 + "b", "c" * 40)]
    names = {buildpod.build_pod_name(i) for i in tags}
    assert len(names) == 3  # same repository and tag prefix, still distinct
    assert buildpod.build_pod_name(IMAGE + "@sha256:" + "d" * 64) == buildpod.build_pod_name(IMAGE)


@pytest.mark.parametrize("kube", ["1.30.0", "1.33.0"])
@pytest.mark.parametrize("traits", [
    {},
    {"node_selector": {"hub.jupyter.org/node-purpose": "build"},
     "tolerations": [{"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "build",
                      "effect": "NoSchedule"}],
     "image_pull_secrets": ["pull"], "extra_labels": {"app.kubernetes.io/instance": "rel"},
     "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                   "limits": {"memory": "4Gi", "ephemeral-storage": "10Gi"}}},
], ids=["defaults", "scheduling"])
def test_manifest_is_a_valid_pod(kube: str, traits: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest_for(executor(**traits), request()), kube, strict=True)


def test_manifest_builds_and_pushes_the_requested_image_from_the_uploaded_context() -> None:
    ex = executor(build_timeout=1800, docker_socket_dir="/var/run/dind-host")
    pod = manifest_for(ex, request())
    spec = pod["spec"]
    assert pod["metadata"]["name"] == buildpod.build_pod_name(IMAGE)
    assert pod["metadata"]["annotations"][buildpod.IMAGE_ANNOTATION] == IMAGE
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 1800
    assert spec["automountServiceAccountToken"] is False
    main = spec["containers"][0]
    args = main["args"]
    assert args[0] == "repo2docker"
    assert args[args.index("--image-name") + 1] == IMAGE
    assert "--push" in args and "--no-run" in args and "--json-logs" in args
    assert args[-1] == buildpod.SOURCE_DIR
    assert args[args.index("--config") + 1] == buildpod.R2D_CONFIG_PATH
    assert "nfdi-launcher.source=https://github.com/o/r" in args
    init = spec["initContainers"][0]["command"]
    assert init[init.index("--digest") + 1] == "sha256:" + "b" * 64
    assert init[init.index("--dest") + 1] == buildpod.SOURCE_DIR
    # the engine: DOCKER_HOST points into the mounted host directory
    socket = next(v for v in spec["volumes"] if v["name"] == "docker-socket")["hostPath"]["path"]
    assert socket == "/var/run/dind-host"
    mount = next(m for m in main["volumeMounts"] if m["name"] == "docker-socket")["mountPath"]
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["DOCKER_HOST"] == f"unix://{mount}/docker.sock"
    # credentials come from the Secret, never from the manifest
    registry = next(v for v in spec["volumes"] if v["name"] == "registry")["secret"]
    assert registry["secretName"] == "registry-push"


def test_registry_password_never_enters_the_manifest() -> None:
    creds = {"registry": "registry.example.org", "username": "builder", "password": "pw-4711-secret"}
    pod = manifest_for(executor(), request(registry_credentials=creds))
    assert "pw-4711-secret" not in json.dumps(pod)


def test_untrusted_labels_stay_single_arguments() -> None:
    """A source URL with shell syntax is one argv element (no shell runs in the pod)."""
    evil = "https://x.org/r; rm -rf / $(id)"
    req = BuildRequest(context_dir=Path("/c"), image=IMAGE, push=True, labels={"nfdi-launcher.source": evil})
    args = manifest_for(executor(), req)["spec"]["containers"][0]["args"]
    assert f"nfdi-launcher.source={evil}" in args
    assert not any(a in ("sh", "bash", "-c") for a in args)


def pod(phase: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "build-x", "annotations": {buildpod.IMAGE_ANNOTATION: IMAGE},
                         "creationTimestamp": "2026-01-01T10:00:00Z"},
            "spec": {"activeDeadlineSeconds": 600}, "status": {"phase": phase, **status}}


def terminated(name: str, code: int, reason: str = "", finished: str = "2026-01-01T10:05:00Z") -> dict[str, Any]:
    return {"name": name, "state": {"terminated": {"exitCode": code, "reason": reason,
                                                  "finishedAt": finished}}}


@pytest.mark.parametrize(("status", "expected"), [
    (pod("Pending"), buildpod.Outcome(False)),
    (pod("Running", containerStatuses=[{"name": "repo2docker", "state": {"running": {}}}]),
     buildpod.Outcome(False)),
    (pod("Succeeded", containerStatuses=[terminated("repo2docker", 0, "Completed")]),
     buildpod.Outcome(True, True)),
    (pod("Failed", containerStatuses=[terminated("repo2docker", 1, "Error")]),
     buildpod.Outcome(True, False, "build pod failed: exit code 1 (Error)")),
    (pod("Failed", initContainerStatuses=[terminated("fetch-context", 1, "Error")]),
     buildpod.Outcome(True, False, "fetching the build context failed: exit code 1 (Error)")),
    (pod("Failed", reason="DeadlineExceeded", message="Pod was active on the node longer than the specified deadline"),
     buildpod.Outcome(True, False, "build timed out after 600 s")),
    (pod("Failed", containerStatuses=[terminated("repo2docker", 137, "OOMKilled")]),
     buildpod.Outcome(True, False, "build pod failed: exit code 137 (OOMKilled)")),
])
def test_pod_outcome(status: dict[str, Any], expected: buildpod.Outcome) -> None:
    assert buildpod.pod_outcome(status) == expected


def test_waiting_reason_names_what_blocks_the_pod() -> None:
    pulling = pod("Pending", initContainerStatuses=[
        {"name": "fetch-context", "state": {"waiting": {"reason": "ErrImagePull"}}}])
    assert buildpod.waiting_reason(pulling) == "Pending: fetch-context ErrImagePull"
    unschedulable = pod("Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                                "reason": "Unschedulable"}])
    assert buildpod.waiting_reason(unschedulable) == "Pending: Unschedulable"


def test_claim_decision_after_409() -> None:
    """What a second replica does with the pod it found."""
    assert buildpod.claim_decision(None, IMAGE) == "retry"
    assert buildpod.claim_decision(pod("Running"), IMAGE) == "follow"
    assert buildpod.claim_decision(pod("Succeeded"), IMAGE) == "follow"
    failed = pod("Failed", containerStatuses=[terminated("repo2docker", 1)])
    assert buildpod.claim_decision(failed, IMAGE) == "replace"
    assert buildpod.claim_decision(pod("Running"), IMAGE + "-other") == "collision"


def test_stale_pods_are_finished_and_old() -> None:
    now = 1767261600.0 + 3600  # 2026-01-01T11:00:00Z
    done_old = pod("Succeeded", containerStatuses=[terminated("repo2docker", 0, finished="2026-01-01T10:05:00Z")])
    done_new = pod("Failed", containerStatuses=[terminated("repo2docker", 1, finished="2026-01-01T10:59:00Z")])
    running_old = pod("Running")
    for p, name in ((done_old, "a"), (done_new, "b"), (running_old, "c")):
        p["metadata"]["name"] = name
    assert buildpod.stale_pods([done_old, done_new, running_old], now, 900) == ["a"]


async def test_without_a_cluster_the_build_fails_with_a_clear_reason(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a cluster (no service account, no kubeconfig) a build fails readably."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    ex = executor()
    req = BuildRequest(context_dir=tmp_path, image=IMAGE, push=True)
    with pytest.raises(BuildFailed, match="cannot reach Kubernetes: no in-cluster service account"):
        async for _event in ex.run(req):
            pass


async def test_an_oversized_context_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"\0" * 200_000)
    ex = executor(max_context_bytes=10_000)
    ex._pod_api = object()  # type: ignore[assignment]  # never reached: the upload fails first
    ex._last_cleanup = float("inf")
    with pytest.raises(BuildFailed, match="larger than 10000 bytes"):
        async for _event in ex.run(BuildRequest(context_dir=tmp_path, image=IMAGE, push=True)):
            pass
