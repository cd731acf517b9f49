"""Kubernetes backend: a real ``kubespawner.KubeSpawner`` per request, in the Outpost's cluster.

As with the Docker backend, the spawner gets stand-in ``user``/``hub`` objects from the
environment the hub sent. The start's settings reach it the way Jupyter-JSC's Kubernetes
Outposts do: ``profile_list`` holds one profile (``kube_mapping.kube_profile``) whose
``kubespawner_override`` carries the digest-pinned image, the flavor's resources and
scheduling, and the per-(hub, user) claim; KubeSpawner applies it (``load_user_options``),
creates the claim if missing, then the pod, and waits until it runs. The hub reaches the
server at the pod's address (cluster networking, as the design's "direct" mode).

Pods and claims carry KubeSpawner's labels (``component: singleuser-server``,
``hub.jupyter.org/username``, ...) plus ``nfdi-outpost/hub``/``user-id`` and the
operator's ``extra_labels``; the nfdi-outpost chart's NetworkPolicy selects them.

No Kubernetes API server can run where this project is tested: the manifests KubeSpawner
makes from these settings are checked offline (docs/kubernetes.md); start/poll/stop have
not run against a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any
from urllib.parse import urlparse

from kubespawner import KubeSpawner
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from outpost.backends.base import Backend, Progress, StartRequest
from outpost.backends.identity import spawner_identity
from outpost.backends.kube_mapping import StorageSettings, kube_profile, pod_name_template, pvc_name
from outpost.readiness import service_prefix
from outpost.store import Record


class KubernetesBackend(Backend):
    """Runs each server as a pod with a persistent volume claim per (hub, user)."""

    namespace = Unicode(
        help="Namespace of user pods and claims. Default: $POD_NAMESPACE, else 'default'.",
    ).tag(config=True)

    @default("namespace")
    def _namespace_default(self) -> str:
        return os.environ.get("POD_NAMESPACE", "default")

    start_timeout = Float(
        600.0,
        help="""Seconds a start may take (image pull included: large Binder images take
        minutes on a cold node), unless the flavor sets ``start_timeout``.""",
    ).tag(config=True)

    storage_class = Unicode(
        "", help="StorageClass of the users' claims (empty: the cluster's default class).",
    ).tag(config=True)
    storage_capacity = Unicode("10Gi", help="Size of each (hub, user) claim.").tag(config=True)
    storage_access_modes = List(
        Unicode(), ["ReadWriteOnce"],
        help="Access modes of the claims (ReadWriteMany lets one user run servers on several nodes).",
    ).tag(config=True)

    require_digest = Bool(
        True,
        help="""Start only images pinned by digest (``name@sha256:...``; the launcher sends
        them as ``repo2docker.image``), so a tag moved in the registry cannot change what runs.""",
    ).tag(config=True)

    fs_gid = Int(
        1000,
        help="""Group that owns the claim's files (pod ``fsGroup``). repo2docker images run as
        jovyan with uid and gid 1000.""",
    ).tag(config=True)

    notebook_dir = Unicode(
        "/home/jovyan",
        help="Directory JupyterLab opens in (the repository from the image, and the storage below it).",
    ).tag(config=True)

    image_pull_secrets = List(
        Unicode(), help="Secrets to pull user images with (the launcher's registry).",
    ).tag(config=True)

    extra_labels = Dict(
        {}, help="Labels added to every user pod and claim (the chart sets its release).",
    ).tag(config=True)

    allowed_image_prefixes = List(
        Unicode(), help="Image prefixes a pinned image may have. Default: the Outpost's.",
    ).tag(config=True)

    @default("allowed_image_prefixes")
    def _prefixes_default(self) -> list[str]:
        return list(getattr(self.parent, "allowed_image_prefixes", []))

    # -- the spawner -------------------------------------------------------------------
    def spawner(self, record: Record, env: dict[str, str], user_options: dict[str, Any],
                profile: dict[str, Any] | None = None) -> KubeSpawner:
        """A KubeSpawner for this record (``profile``: the start's profile_list entry)."""
        from kubernetes_asyncio.config import ConfigException

        try:
            spawner = KubeSpawner(
                parent=self, namespace=self.namespace,
                pod_name_template=pod_name_template(record.hub),
                pvc_name_template=pvc_name(record.hub, record.user_id),
                **spawner_identity(record, env))
        except ConfigException as err:  # said to the hub as 419: the operator must act
            raise RuntimeError("This Outpost cannot reach Kubernetes: no in-cluster service "
                               f"account and no usable kubeconfig ({err})") from None
        # the server listens on the pod's port on all its addresses; the hub reaches it
        # at the pod IP (KubeSpawner's url), the prefix stays the hub's
        spawner.environment = {**env, "JUPYTERHUB_SERVICE_URL":
                               f"http://0.0.0.0:{spawner.port}{service_prefix(env)}"}
        spawner.user_options = dict(user_options)
        spawner.profile_list = [profile] if profile else []
        spawner.fs_gid = self.fs_gid
        spawner.notebook_dir = self.notebook_dir
        spawner.image_pull_secrets = list(self.image_pull_secrets)
        spawner.start_timeout = int(self.start_timeout)
        spawner.delete_pvc = False  # the user's data outlives every server
        return spawner

    def profile(self, request: StartRequest) -> dict[str, Any]:
        rec = request.record
        storage = StorageSettings(self.storage_class or None, self.storage_capacity,
                                  tuple(self.storage_access_modes))
        return kube_profile(request.settings, request.flavor, request.user_options, hub=rec.hub,
                            user_id=rec.user_id, storage=storage, prefixes=list(self.allowed_image_prefixes),
                            require_digest=self.require_digest, extra_labels=dict(self.extra_labels))

    def _restore(self, record: Record) -> KubeSpawner:
        spawner = self.spawner(record, record.env, {})
        spawner.load_state(record.state)
        return spawner

    # -- Backend -------------------------------------------------------------------------
    async def start(self, request: StartRequest, progress: Progress) -> str:
        rec = request.record
        profile = self.profile(request)  # MappingError (419) before anything is created
        spawner = self.spawner(rec, request.env, request.user_options, profile)
        image = profile["kubespawner_override"]["image"]
        await progress(40, f"Outpost: starting pod {spawner.pod_name} from {image}")
        relay = asyncio.ensure_future(_relay_events(spawner, progress))
        try:
            url = await spawner.start()
        except BaseException:
            with contextlib.suppress(Exception):  # the start error is the one to report
                await spawner.stop(now=True)
            raise
        finally:
            relay.cancel()
        rec.state = spawner.get_state()
        await progress(60, f"Outpost: pod running, persistent storage {spawner.pvc_name} at "
                           f"{request.settings.mount_path}; waiting for the server to listen")
        return urlparse(url).netloc if "://" in str(url) else str(url)

    async def poll(self, record: Record) -> int | None:
        if not record.state:
            return None if record.start_pending else 0
        status = await self._restore(record).poll()
        return None if status is None else int(status)

    async def stop(self, record: Record) -> None:
        if record.state:
            await self._restore(record).stop(now=True)

    async def logs(self, record: Record) -> list[str]:
        if not record.state:
            return []
        spawner = self._restore(record)
        try:
            text = await spawner.api.read_namespaced_pod_log(
                spawner.pod_name, spawner.namespace, container="notebook", tail_lines=200)
        except Exception:  # the pod may be gone; logs are best effort
            return []
        return str(text).splitlines()


async def _relay_events(spawner: KubeSpawner, progress: Progress) -> None:
    """Forward KubeSpawner's pod events ("Pulling image ...") as Outpost progress."""
    with contextlib.suppress(Exception):
        async for event in spawner.progress():
            await progress(50, "Outpost: " + str(event.get("message", "")).strip())
