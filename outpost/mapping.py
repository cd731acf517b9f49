"""Jupyter-JSC ``user_options`` (+ flavor) → spawner settings (pure, no I/O).

What a user may choose is narrow on purpose: the image (from allowed registries only),
the flavor (already checked against ``flavors.yaml``) and where their persistent volume
is mounted (below ``/home/jovyan``, never the home itself, so the repository content
that repo2docker put into the image's home stays visible).
"""

from __future__ import annotations

import posixpath
import re
import string
from dataclasses import dataclass, field
from typing import Any

import escapism

DEFAULT_MOUNT = "/home/jovyan/work"
HOME = "/home/jovyan"

# Docker's reference grammar, without upper case (docker rejects it) and bounded.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]{1,5})?/)?"
_IMAGE_RE = re.compile(
    rf"{_HOST}{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
    r"(?:@sha256:[0-9a-f]{64})?"
)
_SAFE = set(string.ascii_lowercase + string.digits)
_PATH_RE = re.compile(r"[A-Za-z0-9._/-]{1,255}")
_MEM_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?[KMGT]?", re.IGNORECASE)


class MappingError(ValueError):
    """user_options that cannot be honoured (reported to the hub as 419; the class name
    tells a launcher whose to fix it, see :class:`StoragePathError` and
    :class:`ImageNotAllowed`)."""


class StoragePathError(MappingError):
    """``storage.localstoragepath`` is not a usable folder (the person's link)."""


class ImageNotAllowed(MappingError):
    """The image is not from a registry this Outpost pulls from (the operators')."""


@dataclass(frozen=True)
class SpawnSettings:
    image: str
    volume_name: str
    mount_path: str
    container_name: str
    cpu_limit: float | None = None
    mem_limit: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def safe_name(value: str) -> str:
    """Injective escaping to characters Docker accepts in container and volume names."""
    return str(escapism.escape(value, safe=_SAFE, escape_char="_"))


def image_allowed(image: str, prefixes: list[str]) -> bool:
    """Is *image* a well-formed reference starting with one of *prefixes*?

    In a prefix, ``*`` stands for any characters except ``/`` (``127.0.0.1:*/`` allows
    every port of a loopback registry, but no other host).
    """
    if len(image) > 512 or not _IMAGE_RE.fullmatch(image):
        return False
    for prefix in prefixes:
        regex = "".join("[^/]*" if c == "*" else re.escape(c) for c in prefix)
        if re.match(regex, image):
            return True
    return False


def choose_image(user_options: dict[str, Any], default_image: str, prefixes: list[str]) -> str:
    custom = user_options.get("custom") or {}
    r2d = user_options.get("repo2docker") or {}
    if not isinstance(custom, dict) or not isinstance(r2d, dict):
        raise MappingError("user_options.custom and user_options.repo2docker must be objects")
    image = custom.get("customimage") or r2d.get("image") or default_image
    if not image:
        raise MappingError("No image given (user_options.custom.customimage)")
    if not isinstance(image, str) or not image_allowed(image, prefixes):
        raise ImageNotAllowed(f"Image {str(image)[:200]!r} is not from an allowed registry "
                           f"(allowed: {', '.join(prefixes) or 'none'})")
    return image


def choose_mount(user_options: dict[str, Any]) -> str:
    storage = user_options.get("storage") or {}
    if not isinstance(storage, dict):
        raise MappingError("user_options.storage must be an object")
    path = storage.get("localstoragepath") or DEFAULT_MOUNT
    if not isinstance(path, str) or not path.startswith("/") or not _PATH_RE.fullmatch(path):
        raise StoragePathError("storage.localstoragepath must be an absolute path of letters, "
                               "digits, '.', '_', '-' and '/'")
    path = path.rstrip("/") or "/"
    if ".." in path.split("/") or "//" in path or posixpath.normpath(path) != path:
        raise StoragePathError(f"storage.localstoragepath {path!r} is not a normalised path")
    if not path.startswith(HOME + "/"):
        raise StoragePathError(f"The storage folder must be below {HOME}/ (got {path!r}).")
    return path


def resources(flavor: dict[str, Any]) -> tuple[float | None, str | None]:
    res = flavor.get("resources") or {}
    cpu = res.get("cpu_limit")
    mem = res.get("mem_limit")
    if cpu is not None:
        cpu = float(cpu)
        if cpu <= 0:
            raise MappingError("flavor resources.cpu_limit must be positive")
    if mem is not None:
        mem = str(mem)
        if not _MEM_RE.fullmatch(mem):
            raise MappingError(f"flavor resources.mem_limit {mem!r} is not like 512M or 2G")
    return cpu, mem


def map_user_options(user_options: dict[str, Any], flavor: dict[str, Any], *, hub: str,
                     user_id: str, server_name: str, start_id: str, default_image: str,
                     allowed_prefixes: list[str], prefix: str) -> SpawnSettings:
    """The settings one start gets; raises :class:`MappingError` with a user-facing text."""
    if not isinstance(user_options, dict):
        raise MappingError("user_options must be an object")
    image = choose_image(user_options, default_image, allowed_prefixes)
    mount = choose_mount(user_options)
    cpu, mem = resources(flavor)
    owner = f"{safe_name(hub)}-{safe_name(user_id)}"
    return SpawnSettings(
        image=image,
        # Keyed by (hub, user id) only: every server of the user sees the same data.
        volume_name=f"{prefix}vol-{owner}",
        mount_path=mount,
        container_name=f"{prefix}{owner}-{safe_name(server_name)}-{safe_name(start_id)}",
        cpu_limit=cpu,
        mem_limit=mem,
        labels={"nfdi.outpost.hub": hub, "nfdi.outpost.user-id": user_id,
                "nfdi.outpost.server": server_name},
    )
