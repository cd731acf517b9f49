"""Docker backend: a real ``dockerspawner.DockerSpawner`` per request, loopback only.

Like the upstream Outpost's wrapper, the spawner gets stand-in ``user``/``hub`` objects
built from the environment the hub sent, and that environment as ``Spawner.environment``.
Containers use the host network and the single-user server binds 127.0.0.1:<port>
(``JUPYTERHUB_SERVICE_URL`` is rewritten to that address), so nothing listens beyond
loopback; the hub reaches it at the returned ``"127.0.0.1:<port>"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import docker.errors
from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port
from traitlets import Bool, Unicode

from outpost.backends.base import Backend, Progress, StartRequest
from outpost.backends.identity import spawner_identity
from outpost.mapping import SpawnSettings
from outpost.readiness import service_prefix
from outpost.store import Record

LOOPBACK = "127.0.0.1"


class LoopbackDockerSpawner(DockerSpawner):  # type: ignore[misc]
    """DockerSpawner on the host network whose server listens on 127.0.0.1 only."""

    async def get_ip_and_port(self) -> tuple[str, int]:
        return LOOPBACK, int(self.port)


def _has_registry_host(image: str) -> bool:
    first = image.split("/", 1)[0]
    return "/" in image and ("." in first or ":" in first or first == "localhost")


class DockerBackend(Backend):
    """Runs each server as a Docker container with a per-(hub, user) named volume."""

    pull_policy = Unicode(
        "ifnotpresent",
        help="""DockerSpawner pull policy for images with an explicit registry host
        (``ifnotpresent``, ``always``, ``never``). Images without a registry host
        (``local/...``, Docker Hub names) are never pulled unless
        ``pull_without_registry_host`` is set: they must already be in the engine.""",
    ).tag(config=True)

    pull_without_registry_host = Bool(
        False,
        help="Allow pulling images that name no registry host (they would come from Docker Hub).",
    ).tag(config=True)

    notebook_dir = Unicode(
        "/home/jovyan",
        help="""Directory JupyterLab opens in. The default shows the repository content
        from the image's home next to the mounted persistent folder.""",
    ).tag(config=True)

    def _pull_policy(self, image: str) -> str:
        if _has_registry_host(image) or self.pull_without_registry_host:
            return self.pull_policy
        return "never"

    def _spawner(self, record: Record, settings: SpawnSettings, env: dict[str, str],
                 user_options: dict[str, Any]) -> LoopbackDockerSpawner:
        spawner = LoopbackDockerSpawner(parent=self, **spawner_identity(record, env))
        spawner.image = settings.image
        spawner.allowed_images = {settings.image: settings.image}
        spawner.pull_policy = self._pull_policy(settings.image)
        spawner.network_name = "host"
        spawner.use_internal_ip = True  # no port bindings: they clash with host networking
        spawner.ip = LOOPBACK
        spawner.remove = True  # stop() removes the container ...
        # ... but Docker does not when it exits by itself: its log stays readable for a
        # failed start's error and the hub's poll, until the hub or the Outpost stops it
        spawner.extra_host_config = {"auto_remove": False}
        spawner.object_name = settings.container_name
        spawner.volumes = {settings.volume_name: {"bind": settings.mount_path, "mode": "rw"}}
        spawner.notebook_dir = self.notebook_dir
        if settings.mem_limit:
            spawner.mem_limit = settings.mem_limit
        if settings.cpu_limit:
            spawner.cpu_limit = settings.cpu_limit
        spawner.user_options = user_options
        spawner.environment = dict(env)
        return spawner

    def _restore(self, record: Record) -> LoopbackDockerSpawner:
        spawner = self._spawner(record, SpawnSettings(**record.settings), record.env, {})
        spawner.load_state(record.state)
        return spawner

    async def start(self, request: StartRequest, progress: Progress) -> str:
        rec, settings = request.record, request.settings
        port = random_port()
        env = dict(request.env)
        prefix = service_prefix(env)
        env["JUPYTERHUB_SERVICE_URL"] = f"http://{LOOPBACK}:{port}{prefix}"
        spawner = self._spawner(rec, settings, env, request.user_options)
        spawner.port = port
        await progress(40, f"Outpost: starting a container from {settings.image}")
        try:  # bounded by the manager (the flavor's start timeout)
            ip, port = await spawner.start()
        except BaseException:
            with contextlib.suppress(Exception):  # the start error is the one to report
                await self._remove(spawner)
            raise
        rec.state = spawner.get_state()
        await progress(60, f"Outpost: container started, persistent storage at "
                           f"{settings.mount_path}; waiting for the server to listen")
        return f"{ip}:{port}"

    async def _remove(self, spawner: LoopbackDockerSpawner) -> None:
        """Stop and remove the container (found by name) and wait until it is gone."""
        obj = await spawner.get_object()
        if not obj:
            return
        spawner.object_id = obj["Id"]
        await spawner.stop()
        # Docker may answer 409 "removal in progress": wait for it to finish.
        for _ in range(100):
            if not await spawner.get_object():
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"container {spawner.object_name} could not be removed")

    async def poll(self, record: Record) -> int | None:
        if not record.state:
            return None if record.start_pending else 0
        status = await self._restore(record).poll()
        if status is None:
            return None
        if isinstance(status, int):
            return status
        match = re.search(r"ExitCode=(-?\d+)", str(status))
        return int(match.group(1)) if match else 1

    async def stop(self, record: Record) -> None:
        await self._remove(self._restore(record))

    async def logs(self, record: Record) -> list[str]:
        if not record.settings:
            return []
        spawner = self._restore(record)
        try:
            raw = await spawner.docker("logs", spawner.object_name, tail=200)
        except docker.errors.APIError:
            return []
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return text.splitlines()
