"""``nfdi-launcher serve``: run the launcher web service.

Standalone::

    JUPYTERHUB_API_TOKEN=... nfdi-launcher serve --hub-url http://127.0.0.1:8000/ --port 8585

As a JupyterHub service (``c.JupyterHub.services = [{"name": "launcher", "url": ...,
"command": ["nfdi-launcher", "serve"]}]``) the hub sets $JUPYTERHUB_SERVICE_URL (bind
address), $JUPYTERHUB_SERVICE_PREFIX (base_url), $JUPYTERHUB_API_URL and
$JUPYTERHUB_API_TOKEN; users are then identified with HubOAuth.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlparse

from tornado.netutil import bind_sockets
from traitlets import Int, Unicode, default

from appbase.app import LauncherApp, until_stopped
from builders.cli import BuildApp
from fdo.cli import configurables as fdo_classes
from launcher.admission import Admission
from launcher.config import RENAMED, LauncherConfig
from launcher.handoff.hubapi import HubApiHandOff, HubClient
from launcher.handoff.starturl import StartUrlHandOff
from launcher.jobs import Jobs
from launcher.pipeline import Pipeline
from launcher.receipts.book import Receipts
from launcher.store import Store


class ServeApp(LauncherApp):
    """Serve the launcher (BinderHub-compatible pages, event streams and JSON API)."""

    name = "nfdi-launcher-serve"
    description = __doc__ or ""

    ip = Unicode("127.0.0.1", help="Address to listen on.").tag(config=True)
    port = Int(8585, help="Port to listen on (0: pick a free one and print it).").tag(config=True)

    @default("ip")
    def _ip_default(self) -> str:
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        return urlparse(url).hostname or "127.0.0.1" if url else "127.0.0.1"

    @default("port")
    def _port_default(self) -> int:
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        return (urlparse(url).port or 80) if url else 8585

    aliases = {
        **LauncherApp.aliases,
        "ip": "ServeApp.ip",
        "port": "ServeApp.port",
        "hub-url": "LauncherConfig.hub_url",
        "hub-api-url": "HubClient.api_url",
        "base-url": "LauncherConfig.base_url",
        "handoff": "LauncherConfig.handoff_class",
        "registry-url": "BuildManager.registry_url",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # everything that runs in the service: its own classes, the builder's, fdo's
        self.classes = [type(self), LauncherApp, LauncherConfig, Store, Jobs, Receipts, Admission, Pipeline,
                        HubApiHandOff, HubClient, StartUrlHandOff, *BuildApp.classes,
                        *fdo_classes()]

    renamed_config = RENAMED
    plugin_classes = BuildApp.plugin_classes

    def make_app(self) -> Any:
        from launcher.app import make_app

        config = LauncherConfig(parent=self)
        return make_app(config)

    def start(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        try:
            app = self.make_app()
        except ValueError as err:  # settings that cannot work together: say which, do not start
            self.log.critical("cannot start the launcher: %s", err)
            self.exit(2)
        # bound here, not by app.listen, so the chosen port (--port 0) is ours to read
        sockets = bind_sockets(self.port, self.ip)
        from launcher.app import make_server

        server = make_server(app)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        base_url = app.settings["base_url"]
        self.log.info("nfdi-launcher listening on http://%s:%s%s", self.ip, port, base_url)
        print(f"nfdi-launcher serving at http://{self.ip}:{port}{base_url}", flush=True)
        state = app.settings["state"]
        orphans = await state.jobs.recover()  # jobs a previous run of this launcher left
        if orphans:
            self.log.warning("%d jobs were left running by a stopped launcher; reported as failed", orphans)
        await until_stopped()
        server.stop()
        await state.jobs.close()  # running jobs end as failed, their requesters are told
        state.store.close()
        close = getattr(app.settings["state"].pipeline.handoff, "close", None)
        if close is not None:
            await close()  # e.g. delete pooled temporary users
