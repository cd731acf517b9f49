"""The stand-in ``user``/``hub`` objects a wrapped spawner gets (as the upstream Outpost).

A JupyterHub spawner expects the hub's ORM user and the hub itself; behind an Outpost
they are built from the environment the hub sent with the start (``JUPYTERHUB_*``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from outpost.store import Record


def spawner_identity(record: Record, env: dict[str, str]) -> dict[str, Any]:
    """``user``, ``hub`` and ``orm_spawner`` keyword arguments for a Spawner."""
    base_url = env.get("JUPYTERHUB_BASE_URL", "/") or "/"
    user = SimpleNamespace(
        name=record.user_name, id=record.user_id, escaped_name=quote(record.user_name, ""),
        url=f"{base_url}user/{quote(record.user_name, '')}/", groups=[],
        progress_url=lambda name: "",
    )
    hub = SimpleNamespace(api_url=env.get("JUPYTERHUB_API_URL", ""),
                          base_url=base_url.rstrip("/") + "/hub/",
                          public_host=env.get("JUPYTERHUB_HOST", ""))
    orm = SimpleNamespace(name=record.name, display_name=record.name, server=None)
    return {"user": user, "hub": hub, "orm_spawner": orm}
