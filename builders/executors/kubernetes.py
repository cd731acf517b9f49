"""Kubernetes executor: repo2docker in one build pod per image (official ``kubernetes`` client).

Steps of :meth:`KubernetesExecutor.run` (each a method below):

1. upload    – pack the fetched context, upload it as a registry blob (content-addressed);
2. claim     – create the build pod named after the image. ``201``: this replica builds.
               ``409 AlreadyExists``: another replica (or an earlier request) is building
               the same image; follow that pod. A pod left over from a failed build is
               deleted and the create retried;
3. wait      – until the repo2docker container runs (scheduling, image pull, context fetch);
4. follow    – stream the container's log, each line parsed like the Docker executor's
               (``parse_repo2docker_line``), so users see the same events;
5. finish    – read the final status; the replica that created the pod deletes it.

The kubelet enforces the time limit (``activeDeadlineSeconds``), so a build stops even if
every launcher replica is gone; finished pods older than ``finished_pod_max_age`` are
removed by the next build. Cancelling :meth:`run` stops following, not the build (other
replicas may be waiting for it), as BinderHub does.

No Kubernetes API server can run where this project is tested: the pod manifest and the
status/dedupe decisions are pure functions in :mod:`builders.executors.buildpod`, tested
offline and against recorded answers of a real server (see docs/kubernetes.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from traitlets import Dict, Float, Int, List, Unicode, default

from builders.events import BuildEvent, Phase, parse_repo2docker_line
from builders.executors import buildpod
from builders.executors.base import BuildFailed, BuildRequest
from builders.executors.context_blob import ContextError, ContextStore, pack
from builders.executors.docker import DockerExecutor
from builders.registry import split_reference

_TAIL = 30
_LOG_RECONNECTS = 20


class PodApi:
    """The API calls a build needs, on one namespace; JSON dicts in and out (blocking)."""

    def __init__(self, core: Any, namespace: str, timeout: float = 30.0) -> None:
        self.core = core
        self.namespace = namespace
        self.timeout = (5.0, timeout)

    @staticmethod
    def _json(resp: Any) -> Any:
        return json.loads(resp.data or b"null")

    def create(self, manifest: dict[str, Any]) -> bool:
        """True when created, False when a pod of that name exists (409)."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.create_namespaced_pod(self.namespace, manifest, _preload_content=False,
                                            _request_timeout=self.timeout)
        except ApiException as err:
            if err.status == 409:
                return False
            raise
        return True

    def read(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self.core.read_namespaced_pod(name, self.namespace, _preload_content=False,
                                                 _request_timeout=self.timeout)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        pod: dict[str, Any] = self._json(resp)
        return pod

    def delete(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespaced_pod(name, self.namespace, _preload_content=False,
                                            _request_timeout=self.timeout)
        except ApiException as err:
            if err.status != 404:
                raise

    def list_pods(self, selector: str | None = None) -> list[dict[str, Any]]:
        kwargs = {"label_selector": selector} if selector else {}
        resp = self.core.list_namespaced_pod(self.namespace, _preload_content=False,
                                             _request_timeout=self.timeout, **kwargs)
        items: list[dict[str, Any]] = self._json(resp).get("items") or []
        return items

    def delete_collection(self, selector: str) -> list[str]:
        """Delete every pod matching ``selector``; the names of the pods deleted."""
        resp = self.core.delete_collection_namespaced_pod(
            self.namespace, label_selector=selector, _preload_content=False,
            _request_timeout=self.timeout)
        return [p["metadata"]["name"] for p in self._json(resp).get("items") or []]

    def log(self, name: str, container: str) -> Any:
        """The streaming log response of ``container`` (``.stream()``, ``.close()``), or
        None when the pod is gone."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self.core.read_namespaced_pod_log(
                name, self.namespace, container=container, follow=True, _preload_content=False,
                _request_timeout=(5.0, None))
        except ApiException as err:
            if err.status == 404:
                return None
            raise


class KubernetesExecutor(DockerExecutor):
    """Runs each build as a pod; the pod's name (from the image name) is the lock."""

    namespace = Unicode(
        help="Namespace of build pods. Default: $POD_NAMESPACE (the launcher's own), else 'default'.",
    ).tag(config=True)

    @default("namespace")
    def _namespace_default(self) -> str:
        return os.environ.get("POD_NAMESPACE", "default")

    builder_image = Unicode(
        "", help="""Image of build pods: repo2docker, the docker CLI and buildx, and this
        package (helm/Dockerfile target ``builder``). Pin it by digest.""",
    ).tag(config=True)
    builder_pull_policy = Unicode("IfNotPresent", help="imagePullPolicy of build pods.").tag(config=True)
    image_pull_secrets = List(Unicode(), help="Secrets to pull the builder image with.").tag(config=True)
    pod_repo2docker_command = List(
        Unicode(), ["repo2docker"], help="repo2docker's command inside the builder image.",
    ).tag(config=True)
    docker_socket_dir = Unicode(
        "/var/run/nfdi-launcher-dind",
        help="""Host directory holding ``docker.sock`` of the node's Docker engine (the
        docker-in-docker DaemonSet's, or the node's own); mounted into build pods.""",
    ).tag(config=True)
    registry_secret = Unicode(
        "", help="""Secret (type kubernetes.io/dockerconfigjson) with push rights; build
        pods use it to download the context and to push the image.""",
    ).tag(config=True)
    registry_url = Unicode(
        help="Registry the contexts are uploaded to. Default: the BuildManager's registry_url.",
    ).tag(config=True)

    @default("registry_url")
    def _registry_url_default(self) -> str:
        return str(getattr(self.parent, "registry_url", ""))

    docker_config_path = Unicode(
        help="Docker config.json with the launcher's registry credentials. Default: the BuildManager's.",
    ).tag(config=True)

    @default("docker_config_path")
    def _docker_config_default(self) -> str:
        return str(getattr(self.parent, "docker_config_path", ""))

    resources = Dict(
        {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        help="Resources of the repo2docker container (Kubernetes ResourceRequirements).",
    ).tag(config=True)
    node_selector = Dict({}, help="nodeSelector of build pods (nodes running the engine).").tag(config=True)
    tolerations = List(Dict(), help="Tolerations of build pods.").tag(config=True)
    extra_labels = Dict({}, help="Extra labels of build pods (the chart sets the release).").tag(config=True)
    poll_interval = Float(2.0, help="Seconds between status reads of a build pod.").tag(config=True)
    api_timeout = Float(30.0, help="Seconds one Kubernetes API call may take.").tag(config=True)
    max_context_bytes = Int(2 * 1024**3, help="Largest build context (packed) that is uploaded.").tag(config=True)
    finished_pod_max_age = Int(
        900, help="Finished build pods older than this (seconds) are deleted by the next build.",
    ).tag(config=True)
    kube_config = Unicode(
        "", help="kubeconfig file for running outside the cluster; empty: in-cluster service account.",
    ).tag(config=True)

    _pod_api: PodApi | None = None
    _last_cleanup = 0.0

    # -- plumbing ------------------------------------------------------------------------
    def pod_api(self) -> PodApi:
        if self._pod_api is None:
            # untyped library: used through Any, like the manager's late imports
            kube_config: Any = importlib.import_module("kubernetes.config")
            kube_client: Any = importlib.import_module("kubernetes.client")
            try:
                if self.kube_config:
                    kube_config.load_kube_config(config_file=self.kube_config)
                else:
                    kube_config.load_incluster_config()
            except kube_config.ConfigException as err:
                raise BuildFailed(f"cannot reach Kubernetes: no in-cluster service account and no "
                                  f"usable kube_config ({err})", "misconfigured") from None
            self._pod_api = PodApi(kube_client.CoreV1Api(), self.namespace, self.api_timeout)
        return self._pod_api

    def context_store(self) -> ContextStore:
        cfg = Path(self.docker_config_path) if self.docker_config_path else None
        return ContextStore(self.registry_url, docker_config=cfg)

    def pod_spec(self, request: BuildRequest, context: buildpod.ContextBlob) -> buildpod.BuildPodSpec:
        """The pure description of the build pod for ``request``."""
        inside = dataclasses.replace(request, context_dir=Path(buildpod.SOURCE_DIR))
        args = self.command(inside, Path(buildpod.R2D_CONFIG_PATH))[len(self.repo2docker_command):]
        return buildpod.BuildPodSpec(
            name=buildpod.build_pod_name(request.image), namespace=self.namespace,
            image=request.image, builder_image=self.builder_image,
            repo2docker_args=[*self.pod_repo2docker_command, *args], context=context,
            registry_secret=self.registry_secret, timeout_seconds=self.build_timeout,
            docker_socket_dir=self.docker_socket_dir, labels=dict(self.extra_labels),
            resources=dict(self.resources), node_selector=dict(self.node_selector),
            tolerations=list(self.tolerations), pull_policy=self.builder_pull_policy,
            image_pull_secrets=list(self.image_pull_secrets))

    # -- the steps -------------------------------------------------------------------------
    async def run(self, request: BuildRequest) -> AsyncIterator[BuildEvent]:
        from kubernetes.client.exceptions import ApiException

        try:
            async for event in self._run(request):
                yield event
        except ApiException as err:  # the API server's refusal, as one readable line
            # 401/403: the service account's rights; others: the API server is in trouble
            reason = "misconfigured" if err.status in (401, 403) else "engine_unavailable"
            raise BuildFailed(f"Kubernetes API: {err.status} {err.reason}", reason) from err

    async def _run(self, request: BuildRequest) -> AsyncIterator[BuildEvent]:
        if not (self.builder_image and self.registry_url and request.push):
            raise BuildFailed("the Kubernetes executor needs builder_image and a registry to push to",
                              "misconfigured")
        api = self.pod_api()
        await self._cleanup_finished(api)
        yield BuildEvent(Phase.BUILDING, "Uploading the build context to the registry")
        context = await self._upload(request)
        manifest = buildpod.build_pod_manifest(self.pod_spec(request, context))
        name = manifest["metadata"]["name"]
        created = await self._claim(api, manifest)
        yield BuildEvent(Phase.BUILDING, f"Started build pod {name}") if created else BuildEvent(
            Phase.WAITING, f"This image is being built already (pod {name}); following its log")
        tail: deque[str] = deque(maxlen=_TAIL)
        outcome: buildpod.Outcome | None = None
        try:
            async with asyncio.timeout(self.build_timeout + 300):
                async for event in self._wait_started(api, name):
                    yield event
                async for event in self._follow(api, name):
                    tail.append(event.message.strip())
                    yield event
                outcome = await self._finish(api, name)
        except TimeoutError:
            outcome = buildpod.Outcome(True, False, f"build timed out after {self.build_timeout} s")
        finally:
            if created and outcome is not None:
                await asyncio.to_thread(api.delete, name)
        assert outcome is not None
        if not outcome.ok:
            last = next((line for line in reversed(tail) if line), "")
            raise BuildFailed(outcome.reason + (f"; last output: {last[:300]}" if last else ""))

    async def _upload(self, request: BuildRequest) -> buildpod.ContextBlob:
        _host, repo, _tag = split_reference(request.image)
        try:
            data = await asyncio.to_thread(pack, request.context_dir, self.max_context_bytes)
        except ContextError as err:
            raise BuildFailed(str(err)) from None
        digest = await asyncio.to_thread(self.context_store().put_blob, repo, data)
        return buildpod.ContextBlob(self.registry_url, repo, digest)

    async def _claim(self, api: PodApi, manifest: dict[str, Any]) -> bool:
        """Create the pod (True), or find the one building this image (False)."""
        name, image = manifest["metadata"]["name"], manifest["metadata"]["annotations"][buildpod.IMAGE_ANNOTATION]
        for _attempt in range(3):
            if await asyncio.to_thread(api.create, manifest):
                return True
            pod = await asyncio.to_thread(api.read, name)
            decision = buildpod.claim_decision(pod, image)
            if decision == "follow":
                return False
            if decision == "collision":
                raise BuildFailed(f"build pod {name} builds another image than {image}")
            if decision == "replace":
                self.log.info("removing failed build pod %s before building again", name)
                await self._delete_and_wait(api, name)
        raise BuildFailed(f"could not create build pod {name}: it keeps reappearing")

    async def _delete_and_wait(self, api: PodApi, name: str) -> None:
        await asyncio.to_thread(api.delete, name)
        for _ in range(int(60 / self.poll_interval) + 1):
            if await asyncio.to_thread(api.read, name) is None:
                return
            await asyncio.sleep(self.poll_interval)
        raise BuildFailed(f"build pod {name} was not deleted within 60 s")

    async def _wait_started(self, api: PodApi, name: str) -> AsyncIterator[BuildEvent]:
        said = ""
        while True:
            pod = await asyncio.to_thread(api.read, name)
            if pod is None or buildpod.main_container_started(pod) or buildpod.pod_outcome(pod).done:
                return
            reason = buildpod.waiting_reason(pod)
            if reason != said:
                said = reason
                yield BuildEvent(Phase.WAITING, f"Build pod {name}: {reason}")
            await asyncio.sleep(self.poll_interval)

    async def _follow(self, api: PodApi, name: str) -> AsyncIterator[BuildEvent]:
        """The repo2docker log as events; reconnects (skipping lines seen) if the stream
        ends while the pod still runs."""
        pod = await asyncio.to_thread(api.read, name)
        if pod is None or not buildpod.main_container_started(pod):
            return  # failed before repo2docker started (e.g. the context fetch)
        seen = 0
        for _attempt in range(_LOG_RECONNECTS):
            index = 0
            async for line in _lines(lambda: api.log(name, buildpod.MAIN)):
                index += 1
                if index > seen:
                    seen = index
                    yield parse_repo2docker_line(line)
            pod = await asyncio.to_thread(api.read, name)
            if pod is None or buildpod.pod_outcome(pod).done:
                return
            await asyncio.sleep(self.poll_interval)

    async def _finish(self, api: PodApi, name: str) -> buildpod.Outcome:
        while True:
            pod = await asyncio.to_thread(api.read, name)
            if pod is None:
                # removed by the replica that created it, after its log ended: whether the
                # image was pushed is for the manager's registry lookup to say
                return buildpod.Outcome(True, True, f"build pod {name} was removed")
            outcome = buildpod.pod_outcome(pod)
            if outcome.done:
                return outcome
            await asyncio.sleep(self.poll_interval)

    async def _cleanup_finished(self, api: PodApi) -> None:
        """Delete finished build pods nobody removed (their replica died), at most once a minute."""
        if time.monotonic() - self._last_cleanup < 60:
            return
        self._last_cleanup = time.monotonic()
        selector = f"app.kubernetes.io/component={buildpod.COMPONENT}"
        try:
            pods = await asyncio.to_thread(api.list_pods, selector)
        except Exception as err:  # housekeeping must not fail a build
            self.log.warning("could not list build pods: %s", err)
            return
        for name in buildpod.stale_pods(pods, time.time(), self.finished_pod_max_age):
            self.log.info("deleting finished build pod %s", name)
            await asyncio.to_thread(api.delete, name)


async def _lines(open_stream: Any) -> AsyncIterator[str]:
    """Lines of a blocking streaming response, read in a thread; closing it on exit."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
    holder: dict[str, Any] = {}

    def pump() -> None:
        try:
            resp = holder["resp"] = open_stream()
            for raw in _iter_lines(resp) if resp is not None else ():
                loop.call_soon_threadsafe(queue.put_nowait, raw)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except BaseException as err:  # delivered to the reader
            loop.call_soon_threadsafe(queue.put_nowait, err)

    thread = threading.Thread(target=pump, name="build-pod-log", daemon=True)
    thread.start()
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise BuildFailed(f"reading the build log failed: {item}") from item
            yield item
    finally:
        resp = holder.get("resp")
        if resp is not None:
            resp.close()  # unblocks the thread when we stop early


def _iter_lines(resp: Any) -> Iterator[str]:
    buf = b""
    for chunk in resp.stream(64 * 1024):
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
    if buf:
        yield buf.decode("utf-8", "replace")
