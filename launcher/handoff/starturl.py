"""``start-url`` hand-off: send the browser to Jupyter-JSC's ``/hub/api/start?...``.

The hub (e.g. hub.nfdi-jupyter.de) handles login, reuses a server with identical options
and starts it on the chosen system; the launcher only builds the image and the URL.
Dotted query keys become nested user_options there (``custom.customimage=...``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

from launcher import events
from launcher.events import Event
from launcher.handoff.base import HandOff, display_name, ready_fields
from launcher.pipeline import LaunchContext


def start_url(hub_url: str, image: str, system: str, flavor: str, name: str, storage_path: str) -> str:
    """``<hub>/hub/api/start?service=jupyterlab&option=custom&custom.customimage=...`` (pure)."""
    query = [
        ("service", "jupyterlab"),
        ("option", "custom"),
        ("custom.customimage", image),
        ("system", system),
        ("flavor", flavor),
        ("name", name),
        ("storage.localstoragepath", storage_path),
    ]
    base = hub_url if hub_url.endswith("/") else hub_url + "/"
    return base + "hub/api/start?" + urlencode([(k, v) for k, v in query if v])


class StartUrlHandOff(HandOff):
    """Redirect the browser to the hub's start API (see module docstring)."""

    name = "start-url"

    async def launch(self, ctx: LaunchContext) -> AsyncIterator[Event]:
        assert ctx.target is not None
        req = ctx.request
        # Jupyter-JSC hubs run KubeSpawner, which pulls name:tag@digest as is: keep the pin
        url = start_url(self.launcher.hub_url, ctx.image, req.system, req.flavor,
                        req.name or display_name(ctx.target), req.storage_path or self.launcher.storage_path)
        yield events.launching("Handing over to the hub's start page...")
        ready = ready_fields(ctx, url, "")
        ready.update(handoff=self.name, redirect=True)
        yield ready
