"""user_options + flavor -> one KubeSpawner profile (pure, no I/O, no cluster).

The shape is the one Jupyter-JSC's Kubernetes Outposts use: ``profile_list`` holds a single
profile whose ``slug`` is ``user_options["profile"]`` and whose ``kubespawner_override``
carries what this start needs — the image (pinned by digest), resources and scheduling
from the flavor, and the per-(hub, user) persistent volume claim mounted at
``storage.localstoragepath``. KubeSpawner applies it itself (``load_user_options``).

Names follow KubeSpawner's conventions with the hub in front, because one Outpost serves
several hubs whose user and server names may coincide: pods ``jupyter-<hub>--{user_server}``
(KubeSpawner expands ``{user_server}`` with its safe slug scheme), claims
``claim-<hub>--<user id>`` — one per (hub, user), stable across servers and restarts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubespawner.slugs import safe_slug

from outpost.mapping import MappingError, SpawnSettings, image_allowed, resources

PVC_VOLUME = "persistent-storage"
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?([KMGTPE]i?|[mk])?")
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}


@dataclass(frozen=True)
class StorageSettings:
    """Operator settings of the per-(hub, user) claims."""

    storage_class: str | None = None
    capacity: str = "10Gi"
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)


def hub_slug(hub: str) -> str:
    return str(safe_slug(hub, max_length=20))


def pod_name_template(hub: str) -> str:
    """KubeSpawner's ``jupyter-{user_server}`` with the hub in front."""
    return f"jupyter-{hub_slug(hub)}--{{user_server}}"


def pvc_name(hub: str, user_id: str) -> str:
    """The claim of (hub, user): the same for all their servers, across restarts."""
    return f"claim-{hub_slug(hub)}--{safe_slug(user_id, max_length=20)}"


def pinned_image(settings: SpawnSettings, user_options: dict[str, Any], prefixes: list[str],
                 require_digest: bool) -> str:
    """The image as ``name[:tag]@sha256:...``.

    The launcher sends a pullable ``name:tag`` as ``custom.customimage`` and the pinned
    reference as ``repo2docker.image``; the pinned one is used when it names the same
    image. Without a digest the start is refused when ``require_digest``.
    """
    if "@sha256:" in settings.image:
        return settings.image
    r2d = user_options.get("repo2docker") or {}
    candidate = r2d.get("image") if isinstance(r2d, dict) else None
    if isinstance(candidate, str) and candidate.partition("@")[0] == settings.image \
            and "@sha256:" in candidate and image_allowed(candidate, prefixes):
        return candidate
    if require_digest:
        raise MappingError(f"Image {settings.image[:200]!r} is not pinned by digest; this Outpost "
                           "starts only name@sha256:... references (repo2docker.image)")
    return settings.image


def _labels(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MappingError(f"flavor {what} must be a mapping of labels")
    for k, v in value.items():
        if not (isinstance(k, str) and _LABEL_KEY.fullmatch(k) and isinstance(v, str)
                and _LABEL_VALUE.fullmatch(v)):
            raise MappingError(f"flavor {what}: {k!r}: {v!r} is not a Kubernetes label")
    return dict(value)


def _tolerations(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) and set(t) <= _TOLERATION_KEYS
                                              for t in value):
        raise MappingError(f"flavor tolerations must be a list of {sorted(_TOLERATION_KEYS)} mappings")
    return [dict(t) for t in value]


def _quantities(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and _LABEL_KEY.fullmatch(k) and _QUANTITY.fullmatch(str(v))
            for k, v in value.items()):
        raise MappingError(f"flavor {what} must map resource names to quantities")
    return {k: str(v) for k, v in value.items()}


def _guarantee(res: dict[str, Any], key: str, limit: Any) -> Any:
    value = res.get(key)
    if value is None:
        return None
    if key == "cpu_guarantee":
        value = float(value)
        if value <= 0 or (limit is not None and value > limit):
            raise MappingError("flavor cpu_guarantee must be positive and at most cpu_limit")
        return value
    if not _QUANTITY.fullmatch(str(value).upper().rstrip("B")):
        raise MappingError(f"flavor mem_guarantee {value!r} is not like 512M or 2G")
    return str(value)


def kube_profile(settings: SpawnSettings, flavor: dict[str, Any], user_options: dict[str, Any], *,
                 hub: str, user_id: str, storage: StorageSettings, prefixes: list[str],
                 require_digest: bool = True, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """One ``profile_list`` entry for this start (raises MappingError with a user-facing text)."""
    res = flavor.get("resources") or {}
    cpu_limit, mem_limit = resources(flavor)
    claim = pvc_name(hub, user_id)
    labels = {**(extra_labels or {}), "nfdi-outpost/hub": hub_slug(hub),
              "nfdi-outpost/user-id": safe_slug(user_id, max_length=20)}
    override: dict[str, Any] = {
        "image": pinned_image(settings, user_options, prefixes, require_digest),
        "image_pull_policy": "IfNotPresent",
        "cpu_limit": cpu_limit,
        "cpu_guarantee": _guarantee(res, "cpu_guarantee", cpu_limit),
        "mem_limit": mem_limit,
        "mem_guarantee": _guarantee(res, "mem_guarantee", None),
        "node_selector": _labels(res.get("node_selector", {}), "node_selector"),
        "tolerations": _tolerations(res.get("tolerations", [])),
        "extra_resource_limits": _quantities(res.get("extra_resource_limits", {}), "extra_resource_limits"),
        "extra_resource_guarantees": _quantities(res.get("extra_resource_limits", {}), "extra_resource_limits"),
        "storage_pvc_ensure": True,
        "pvc_name": claim,
        "storage_class": storage.storage_class,
        "storage_capacity": storage.capacity,
        "storage_access_modes": list(storage.access_modes),
        "volumes": [{"name": PVC_VOLUME, "persistentVolumeClaim": {"claimName": claim}}],
        "volume_mounts": [{"name": PVC_VOLUME, "mountPath": settings.mount_path}],
        "extra_labels": labels,
        "storage_extra_labels": labels,
    }
    slug = user_options.get("profile") if isinstance(user_options.get("profile"), str) else ""
    return {
        "display_name": str(flavor.get("display_name") or "custom"),
        "slug": slug or "custom",
        "default": True,
        "kubespawner_override": {k: v for k, v in override.items() if v is not None},
    }
