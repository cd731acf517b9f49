"""The pod and claim KubeSpawner would create for a start, made offline by KubeSpawner itself.

The backend builds its KubeSpawner exactly as for a real start (``KubernetesBackend.spawner``
with the start's profile); KubeSpawner applies the profile (``load_user_options``) and
makes the objects with its own functions (``get_pod_manifest`` -> ``objects.make_pod``,
``get_pvc_manifest`` -> ``objects.make_pvc``). KubeSpawner loads a client configuration
when constructed; it gets a kubeconfig whose server is a canary on loopback that records
any request — the tests assert it got none. No API server is involved.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_asyncio.config.kube_config as kube_config_module
from kubernetes_asyncio.client import ApiClient

from outpost.backends.base import StartRequest
from outpost.backends.kubernetes import KubernetesBackend
from outpost.mapping import map_user_options
from outpost.store import Record
from tests.harness.canary import Canary

HUB = "hub.example.org"
DIGEST = "sha256:" + "5" * 64
IMAGE = "registry.example.org/nfdi-launcher/gh-o-2dr-4b1c2d:0f0f0f0f"


def use_canary_kubeconfig(canary: Canary, tmp: Path) -> None:
    """Point the kubernetes_asyncio default kubeconfig at the canary (nothing is contacted)."""
    path = tmp / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: canary, cluster: {{server: "{canary.url}"}}}}]
users: [{{name: u, user: {{token: not-a-real-token}}}}]
contexts: [{{name: c, context: {{cluster: canary, user: u, namespace: users}}}}]
current-context: c
""")
    kube_config_module.KUBE_CONFIG_DEFAULT_LOCATION = str(path)


def user_options(image: str = IMAGE, storage: str = "/home/jovyan/work") -> dict[str, Any]:
    """What the launcher sends (launcher/handoff/base.py user_options), abridged."""
    return {"service": "jupyterlab", "option": "custom", "profile": "custom", "system": "cloud",
            "flavor": "small", "custom": {"customimage": image},
            "storage": {"localstoragepath": storage},
            "repo2docker": {"repourl": "https://github.com/o/r", "image": f"{image}@{DIGEST}"}}


def env(user: str, user_id: str, server: str) -> dict[str, str]:
    prefix = f"/user/{user}/{server}/"
    return {"JUPYTERHUB_USER": user, "JUPYTERHUB_USER_ID": user_id, "JUPYTERHUB_API_TOKEN": "tok-123",
            "JUPYTERHUB_API_URL": "https://hub.example.org/hub/api", "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_SERVICE_PREFIX": prefix, "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:8888{prefix}"}


def start_request(flavor_name: str, flavor: dict[str, Any], *, hub: str = HUB, user: str = "alice",
                  user_id: str = "42", server: str = "r-abc123", options: dict[str, Any] | None = None,
                  prefixes: tuple[str, ...] = ("registry.example.org/nfdi-launcher/",)) -> StartRequest:
    uo = copy.deepcopy(options or user_options())
    settings = map_user_options(uo, flavor, hub=hub, user_id=user_id, server_name=server, start_id="0",
                                default_image="", allowed_prefixes=list(prefixes), prefix="nfdi-outpost-")
    rec = Record(hub=hub, name=server, start_id="0", user_id=user_id, user_name=user, flavor=flavor_name,
                 env=env(user, user_id, server))
    return StartRequest(record=rec, settings=settings, env=rec.env, user_options=uo, flavor=flavor)


async def objects(backend: KubernetesBackend, request: StartRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod, claim) as the API would receive them (JSON dicts)."""
    spawner = backend.spawner(request.record, request.env, request.user_options, backend.profile(request))
    await spawner.load_user_options()
    pod = await spawner.get_pod_manifest()
    pvc = spawner.get_pvc_manifest()
    api = ApiClient()
    try:
        pod_json: dict[str, Any] = api.sanitize_for_serialization(pod)
        pvc_json: dict[str, Any] = api.sanitize_for_serialization(pvc)
    finally:
        await api.close()
    pod_json.setdefault("apiVersion", "v1")
    pod_json.setdefault("kind", "Pod")
    pvc_json.setdefault("apiVersion", "v1")
    pvc_json.setdefault("kind", "PersistentVolumeClaim")
    return pod_json, pvc_json
