"""The hand-off interface and the pure pieces every strategy shares.

A strategy gets the :class:`~launcher.pipeline.LaunchContext` of the pipeline's last step
and yields its events; the pipeline's types live in :mod:`launcher.pipeline`.

Pure functions here: :func:`server_name` (named server from target + system + flavor,
so a repeated launch finds the running server), :func:`temp_user_name`,
:func:`user_options` (Jupyter-JSC structure + top-level ``image`` for plain
DockerSpawner/KubeSpawner hubs) and :func:`ready_fields` (BinderHub's ``ready`` keys).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from traitlets.config import LoggingConfigurable

from fdo.target import LaunchTarget
from launcher.config import LauncherConfig
from launcher.events import Event
from launcher.pipeline import LaunchContext


class HandOff(LoggingConfigurable):
    """Strategy interface: start (or point to) a server running ``ctx.image``.

    A strategy is configured under its own class name (``c.HubApiHandOff.*``); the web
    service's settings it shares (``hub_url``, ``storage_path``, ``anonymous``) are read
    from :attr:`launcher`, which is also its traitlets parent."""

    #: the short name (``LauncherConfig.handoff_class``), shown in ``/api/v1/systems``
    name = "abstract"

    def __init__(self, launcher: LauncherConfig, **kwargs: Any) -> None:
        super().__init__(parent=launcher, **kwargs)
        self.launcher = launcher

    @abstractmethod
    def launch(self, ctx: LaunchContext) -> AsyncIterator[Event]:
        """Yield ``launching`` events; the last event yielded is the ``ready`` event."""

    async def health(self) -> dict[str, Any]:
        """A /health check entry for the hub this strategy talks to."""
        return {"service": "JupyterHub API", "ok": True}


# -- pure helpers ----------------------------------------------------------------------
_SLUG_BAD = re.compile(r"[^a-z0-9]+")


def _slug(text: str, limit: int) -> str:
    return _SLUG_BAD.sub("-", text.lower()).strip("-")[:limit].strip("-") or "x"


def repo_label(target: LaunchTarget) -> str:
    """Short human part of names: the last path segment of the source (no ``.git``).

    Starts with a letter (JupyterHub's safe-slug rule for server names).
    """
    tail = target.source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    label = _slug(tail, 15)
    return label if label[0].isalpha() else _slug("r-" + label, 15)


def server_name(target: LaunchTarget, system: str, flavor: str) -> str:
    """Deterministic named-server name for (target, system, flavor): a JupyterHub safe slug
    (lowercase letter first, ``[a-z0-9-]``, no ``--``, ≤ 30 characters).

    The same content on the same resource maps to the same server, so a repeated launch
    reuses it; a different commit, system or flavor gets its own server.
    """
    digest = hashlib.sha256(f"{target.cache_key}\0{system}\0{flavor}".encode()).hexdigest()[:10]
    return f"{repo_label(target)}-{digest}"


def random_suffix(length: int = 8) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def temp_user_name(target: LaunchTarget, rand: str | None = None) -> str:
    """Temporary hub user for an anonymous launch (BinderHub style: ``<repo>-<8 random>``)."""
    return f"{repo_label(target)}-{rand or random_suffix()}"


def display_name(target: LaunchTarget) -> str:
    label = target.title or target.source.rstrip("/").rsplit("/", 1)[-1]
    return f"{label}@{target.ref[:12]}"[:80]


def provenance(target: LaunchTarget) -> dict[str, Any]:
    """The ``repo2docker`` block of user_options: where the image's content came from."""
    return {
        "repotype": target.provider,
        "repourl": target.source,
        "reporef": target.ref,
        "identifier": target.identifier,
        "launch_path": target.launch_path,
        "chain": [h.to_json() for h in target.chain],
    }


def spawn_reference(image: str) -> str:
    """The image reference a spawner can pull: ``name:tag`` of a ``name:tag@digest``.

    DockerSpawner (and ``docker pull repo tag``) split a reference at its last ``:``,
    which breaks on ``@sha256:...``. Our tags are derived from the content, so
    ``name:tag`` names the same image; the digest stays in the provenance.
    """
    name, sep, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if sep and ":" in last:
        return name
    return image


def user_options(target: LaunchTarget, image: str, system: str, flavor: str,
                 name: str = "", storage_path: str = "/home/jovyan/work",
                 hpc: dict[str, str] | None = None) -> dict[str, Any]:
    """Jupyter-JSC user_options for a custom image (+ ``image`` for plain spawners).

    *image* may be pinned by digest; spawners get :func:`spawn_reference` of it and the
    full reference is kept under ``repo2docker.image`` (as Jupyter-JSC share links do).
    *hpc* (``project``, ``account``, ``partition``) goes where the UNICORE fields go.
    """
    pullable = spawn_reference(image)
    options = {
        "service": "jupyterlab",
        "option": "custom",
        "profile": "custom",
        "name": name or display_name(target),
        "system": system,
        "flavor": flavor,
        "image": pullable,
        "custom": {"customimage": pullable},
        "storage": {"localstoragepath": storage_path},
        "repo2docker": {**provenance(target), "image": image},
    }
    if hpc:
        options["hpc"] = dict(hpc)
    return options


def ready_fields(ctx: LaunchContext, url: str, token: str) -> Event:
    """BinderHub's ``ready`` event plus ours (target, system, flavor)."""
    target = ctx.target
    assert target is not None
    request = ctx.request
    return {
        "phase": "ready",
        "message": f"server running at {url}\n",
        "url": url,
        "token": token,
        "image": ctx.image,
        "repo_url": target.source,
        "binder_ref_url": target.ref_url or target.source,
        "binder_launch_host": request.launch_host,
        "binder_request": request.binder_request,
        "binder_persistent_request": target.launch_path,
        "binder_client_ip": request.client_ip,
        "target": target.to_json(),
        "system": request.system,
        "flavor": request.flavor,
    }
