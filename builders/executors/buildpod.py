"""Build pods, as plain data: names, manifests and outcomes (pure: no I/O, no client).

A build pod's name is derived from the image name alone, so every launcher replica that
wants the same image computes the same name; the API server lets only one of them create
it (the others get 409 AlreadyExists and follow that pod), as BinderHub does.

Layout of a build pod:

- init container ``fetch-context`` (builder image): downloads the build context blob
  from the registry by digest, verifies and unpacks it into ``/build/context``, and
  writes the repo2docker config and a writable Docker config next to it;
- container ``repo2docker`` (builder image): runs repo2docker against the node's Docker
  engine (the docker-in-docker DaemonSet's socket, mounted from the host) and pushes;
- ``restartPolicy: Never`` and ``activeDeadlineSeconds``: the kubelet kills a build that
  runs too long, whoever started it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

COMPONENT = "nfdi-launcher-build"
BUILD_LABEL = "nfdi-launcher/build"
IMAGE_ANNOTATION = "nfdi-launcher/image"
MAIN = "repo2docker"
INIT = "fetch-context"
CONTEXT_DIR = "/build/context"
SOURCE_DIR = CONTEXT_DIR + "/src"
R2D_CONFIG_PATH = CONTEXT_DIR + "/repo2docker_config.py"
DOCKER_CONFIG_DIR = CONTEXT_DIR + "/docker"
REGISTRY_SECRET_DIR = "/build/registry"
SOCKET_DIR = "/var/run/dind"
_NOT_DNS = re.compile(r"[^a-z0-9]+")


def build_pod_name(image: str) -> str:
    """``build-<readable part>-<hash>``: a DNS-1123 label (<= 63) unique per image name.

    The readable part is the repository's last path segment and the start of the tag; the
    hash covers the whole reference, so different images never share a name.
    """
    name = image.partition("@")[0]
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    readable = _NOT_DNS.sub("-", f"{repo.rsplit('/', 1)[-1]}-{tag[:8]}".lower()).strip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"build-{readable[:45].strip('-') or 'image'}-{digest}"


@dataclass(frozen=True)
class ContextBlob:
    """Where the init container finds the build context."""

    registry_url: str
    repository: str
    digest: str


@dataclass(frozen=True)
class BuildPodSpec:
    """Everything a build pod manifest depends on (operator settings + one request)."""

    name: str
    namespace: str
    image: str  # the image being built (annotation only)
    builder_image: str
    repo2docker_args: list[str]
    context: ContextBlob
    registry_secret: str
    timeout_seconds: int
    docker_socket_dir: str
    labels: dict[str, str] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    pull_policy: str = "IfNotPresent"
    image_pull_secrets: list[str] = field(default_factory=list)
    context_size_limit: str = "4Gi"


def pod_labels(spec: BuildPodSpec) -> dict[str, str]:
    return {**spec.labels, "app.kubernetes.io/component": COMPONENT,
            "app.kubernetes.io/managed-by": "nfdi-launcher", BUILD_LABEL: spec.name}


def _security(read_only: bool) -> dict[str, Any]:
    # root (the Docker socket belongs to root) but without any capability or escalation
    return {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": read_only, "capabilities": {"drop": ["ALL"]}}


def build_pod_manifest(spec: BuildPodSpec) -> dict[str, Any]:
    """The Pod object (API JSON shape) for ``spec``."""
    fetch = ["python3", "-m", "builders.executors.context_blob", "fetch",
             "--registry", spec.context.registry_url, "--repository", spec.context.repository,
             "--digest", spec.context.digest, "--dest", SOURCE_DIR,
             "--docker-config", f"{REGISTRY_SECRET_DIR}/config.json",
             "--docker-config-out", DOCKER_CONFIG_DIR, "--r2d-config", R2D_CONFIG_PATH]
    context_mount = {"name": "context", "mountPath": CONTEXT_DIR}
    tmp_mount = {"name": "tmp", "mountPath": "/tmp"}
    main: dict[str, Any] = {
        "name": MAIN, "image": spec.builder_image, "imagePullPolicy": spec.pull_policy,
        "args": spec.repo2docker_args,
        "env": [{"name": "DOCKER_HOST", "value": f"unix://{SOCKET_DIR}/docker.sock"},
                {"name": "DOCKER_CONFIG", "value": DOCKER_CONFIG_DIR}],
        "volumeMounts": [context_mount, tmp_mount,
                         {"name": "docker-socket", "mountPath": SOCKET_DIR}],
        "securityContext": _security(read_only=True),
        "resources": spec.resources,
        # the kubelet puts the log's tail into the status: the reason users see
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    init: dict[str, Any] = {
        "name": INIT, "image": spec.builder_image, "imagePullPolicy": spec.pull_policy,
        "command": fetch,
        "volumeMounts": [context_mount, tmp_mount,
                         {"name": "registry", "mountPath": REGISTRY_SECRET_DIR, "readOnly": True}],
        "securityContext": _security(read_only=True),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": spec.timeout_seconds,
        "terminationGracePeriodSeconds": 30,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [init],
        "containers": [main],
        "volumes": [
            {"name": "context", "emptyDir": {"sizeLimit": spec.context_size_limit}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "docker-socket", "hostPath": {"path": spec.docker_socket_dir, "type": "Directory"}},
            {"name": "registry", "secret": {"secretName": spec.registry_secret, "items": [
                {"key": ".dockerconfigjson", "path": "config.json"}]}},
        ],
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = list(spec.tolerations)
    if spec.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in spec.image_pull_secrets]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": pod_labels(spec),
                     "annotations": {IMAGE_ANNOTATION: spec.image}},
        "spec": pod_spec,
    }


@dataclass(frozen=True)
class Outcome:
    """What a build pod's status says: ``done`` False while it may still change."""

    done: bool
    ok: bool = False
    reason: str = ""


def _terminated(statuses: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    for status in statuses or []:
        if status.get("name") == name:
            state = status.get("state") or {}
            return state.get("terminated") or (status.get("lastState") or {}).get("terminated")
    return None


def _describe(term: dict[str, Any]) -> str:
    text = f"exit code {term.get('exitCode')}"
    if term.get("reason"):
        text += f" ({term['reason']})"
    if term.get("message"):  # the log's tail (FallbackToLogsOnError): its end says most
        lines = [ln for ln in str(term["message"]).strip().splitlines() if ln.strip()]
        text += f": {lines[-1][-300:]}" if lines else ""
    return text


def pod_outcome(pod: dict[str, Any]) -> Outcome:
    """Interpret a Pod object's status (the API's JSON, e.g. from a watch or a GET)."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase == "Succeeded":
        return Outcome(True, True)
    if phase == "Failed":
        if status.get("reason") == "DeadlineExceeded":
            deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
            return Outcome(True, False, f"build timed out after {deadline} s")
        init = _terminated(status.get("initContainerStatuses"), INIT)
        if init and init.get("exitCode"):
            return Outcome(True, False, f"fetching the build context failed: {_describe(init)}")
        containers = status.get("containerStatuses") or []
        main = _terminated(containers, MAIN) or next(
            (c["state"]["terminated"] for c in containers if (c.get("state") or {}).get("terminated")), None)
        if main:
            return Outcome(True, False, f"build pod failed: {_describe(main)}")
        return Outcome(True, False, f"build pod failed: {status.get('reason') or status.get('message') or 'unknown'}")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return Outcome(True, False, "build pod was deleted before it finished")
    return Outcome(False)


def waiting_reason(pod: dict[str, Any]) -> str:
    """A short text for a pod that has not started building (``Pending: ErrImagePull``)."""
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for c in status.get(key) or []:
            waiting = (c.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason"):
                return f"{status.get('phase', 'Pending')}: {c['name']} {waiting['reason']}"
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason"):
            return f"{status.get('phase', 'Pending')}: {cond['reason']}"
    return str(status.get("phase") or "Pending")


def main_container_started(pod: dict[str, Any]) -> bool:
    """Has the repo2docker container started (its log can be followed)?"""
    for c in (pod.get("status") or {}).get("containerStatuses") or []:
        if c.get("name") == MAIN and ((c.get("state") or {}).get("running") or (c.get("state") or {}).get("terminated")):
            return True
    return False


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def finished_at(pod: dict[str, Any]) -> float | None:
    """When the pod's containers finished (latest), else when it was created."""
    status = pod.get("status") or {}
    ends = [_timestamp((c.get("state") or {}).get("terminated", {}).get("finishedAt"))
            for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]]
    known = [t for t in ends if t is not None]
    return max(known) if known else _timestamp((pod.get("metadata") or {}).get("creationTimestamp"))


def stale_pods(pods: list[dict[str, Any]], now: float, max_age: float) -> list[str]:
    """Names of finished build pods that finished more than ``max_age`` seconds ago."""
    stale = []
    for pod in pods:
        if not pod_outcome(pod).done:
            continue
        when = finished_at(pod)
        if when is not None and now - when > max_age:
            stale.append(pod["metadata"]["name"])
    return stale


def claim_decision(existing: dict[str, Any] | None, image: str) -> str:
    """What a replica does after its create was answered 409 and it read the pod:

    ``retry`` (the pod is gone again: create once more), ``follow`` (it is building, or
    has built, this image), ``replace`` (it failed earlier: delete it, then create), or
    ``collision`` (a pod of that name builds another image: refuse).
    """
    if existing is None:
        return "retry"
    theirs = ((existing.get("metadata") or {}).get("annotations") or {}).get(IMAGE_ANNOTATION)
    if theirs != image:
        return "collision"
    outcome = pod_outcome(existing)
    return "replace" if outcome.done and not outcome.ok else "follow"
