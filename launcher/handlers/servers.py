"""``/api/v1/servers``: the logged-in person's launches ("My launches" on the home page).

- ``GET /api/v1/servers``: ``{"user", "launches": [...]}`` — each named server the launcher
  started for this user (see :func:`launcher.handoff.servers.launch_entry`), newest first;
- ``DELETE /api/v1/servers/<name>``: stop that server and forget it (``~/work`` stays).

Only for a hub user (OAuth cookie plus ``X-XSRFToken``, or ``Authorization: token``); without
one the answer is 403, never a login redirect. Only servers the launcher started can be
stopped here.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from launcher.handlers.base import BaseHandler, UserError
from launcher.handoff.hubapi import HubClient
from launcher.handoff.servers import launch_entry, stop_launch, user_launches
from launcher.pipeline import PipelineError


class ServersHandler(BaseHandler):
    def get_login_url(self) -> str:
        raise UserError(403, "Authentication required: log in to the hub, or send a hub API "
                             "token")

    def hub(self) -> HubClient:
        hub = getattr(self.state.pipeline.handoff, "hub", None)
        if not isinstance(hub, HubClient):
            raise UserError(501, "this launcher hands launches to a hub that keeps its own "
                                 "list of servers")
        return hub

    async def entries(self) -> list[dict[str, Any]]:
        if not self.user_name:  # a service's token: it has no launches of its own
            raise UserError(403, "only hub users have launches")
        handoff: Any = self.state.pipeline.handoff
        launcher_url = self.public_base_url()
        hub_url = handoff.public_hub_url(launcher_url)
        try:
            models = await user_launches(self.hub(), self.user_name)
        except PipelineError as err:
            raise UserError(err.status_code, str(err)) from err
        found = [launch_entry(m, hub_url, launcher_url) for m in models]
        entries = [e for e in found if e is not None]
        receipts = self.state.receipts  # each server's newest receipt (launcher/receipts)
        latest = await receipts.by_server(self.user_name) if receipts is not None else {}
        for entry in entries:
            rid = latest.get(str(entry["server"]))
            entry["receipt_url"] = f"{launcher_url}receipt/{rid}" if rid else ""
        return sorted(entries, key=lambda e: str(e.get("started") or ""), reverse=True)

    @web.authenticated
    async def get(self, name: str = "") -> None:
        if name:
            raise UserError(405, "GET /api/v1/servers lists them; DELETE .../<name> stops one")
        self.write_json({"user": self.user_name, "launches": await self.entries()})

    @web.authenticated
    async def delete(self, name: str = "") -> None:
        if not any(e["server"] == name for e in await self.entries()):
            raise UserError(404, f"you have no launch named {name!r}")
        try:
            await stop_launch(self.hub(), self.user_name, name)
        except PipelineError as err:
            raise UserError(err.status_code, str(err)) from err
        self.write_json({"server": name, "state": "stopping"}, 202)


default_handlers = [
    (r"api/v1/servers/?", ServersHandler),
    (r"api/v1/servers/([a-z0-9-]{1,63})", ServersHandler),
]
