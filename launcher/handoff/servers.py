"""A person's launches: the named servers the launcher started for them, from the hub.

The hub is the record: ``GET users/<name>?include_stopped_servers`` returns every named server
with its ``user_options``, and those the launcher started carry the ``repo2docker`` block
(target, pinned ref, image) next to ``system`` and ``flavor``. Nothing is kept here.

:func:`launch_entry` (pure) turns one server model into what "My launches" shows;
:func:`user_launches` and :func:`stop_launch` are the two hub calls.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fdo.target import LaunchTarget
from launcher.pipeline import PipelineError

if TYPE_CHECKING:  # the hub-api hand-off uses this module
    from launcher.handoff.hubapi import HubClient


def server_state(model: dict[str, Any]) -> str:
    """``running``, ``starting``, ``stopping`` or ``stopped`` (pure)."""
    if model.get("pending") == "spawn":
        return "starting"
    if model.get("pending") == "stop":
        return "stopping"
    if model.get("ready"):
        return "running"
    return "stopped"


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def launch_entry(model: dict[str, Any], hub_public_url: str, launcher_public_url: str,
                 now: float | None = None) -> dict[str, Any] | None:
    """What "My launches" shows of one hub server model; None if the launcher did not start it.

    *hub_public_url* and *launcher_public_url* end in "/"; the entry's ``url`` opens the
    server, ``relaunch_url`` launches the same pinned target on the same resource again."""
    options = model.get("user_options") or {}
    r2d = options.get("repo2docker") if isinstance(options, dict) else None
    if not isinstance(r2d, dict) or not r2d.get("launch_path"):
        return None
    state = server_state(model)
    started = _epoch(model.get("started"))
    query = {k: str(options[k]) for k in ("system", "flavor") if options.get(k)}
    path = str(model.get("url") or "")
    return {
        "server": str(model.get("name", "")),
        "identifier": str(r2d.get("identifier", "")),
        "source": str(r2d.get("repourl", "")),
        "ref": str(r2d.get("reporef", "")),
        "launch_path": str(r2d["launch_path"]),
        "image": str(r2d.get("image", "")),
        "system": str(options.get("system", "")),
        "flavor": str(options.get("flavor", "")),
        "state": state,
        "started": model.get("started"),
        "last_activity": model.get("last_activity"),
        "age_seconds": None if started is None else max(0, int((now or time.time()) - started)),
        "url": hub_public_url.rstrip("/") + path if path and state != "stopped" else "",
        "relaunch_url": launcher_public_url + str(r2d["launch_path"])
        + ("?" + urlencode(query) if query else ""),
    }


def running_same_target(models: list[dict[str, Any]], target: LaunchTarget) -> dict[str, Any] | None:
    """A running server (hub model) of *target*'s source at its pinned ref, if any (pure)."""
    for model in models:
        options = model.get("user_options") or {}
        r2d = options.get("repo2docker") if isinstance(options, dict) else None
        if (model.get("ready") and isinstance(r2d, dict) and r2d.get("repourl") == target.source
                and r2d.get("reporef") == target.ref):
            return model
    return None


async def user_launches(hub: HubClient, user: str) -> list[dict[str, Any]]:
    """The hub's server models of *user* (stopped ones too); [] for an unknown user."""
    try:
        model = await hub.json("GET", f"users/{quote(user)}?include_stopped_servers",
                               what=f"list the servers of {user}")
    except PipelineError as err:
        if err.status_code == 404:
            return []
        raise
    servers = (model or {}).get("servers") or {}
    return [dict(s, name=name) for name, s in servers.items() if name]


async def stop_launch(hub: HubClient, user: str, server: str) -> None:
    """Stop *user*'s named *server* and forget it (the user's storage stays)."""
    await hub.call("DELETE", f"users/{quote(user)}/servers/{quote(server)}", {"remove": True},
                   ok=(202, 204), what=f"stop server {user}/{server}")
