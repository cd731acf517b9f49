"""``nfdi-launcher outpost``: run an Outpost (JupyterHub Outpost REST API) on this host."""

from __future__ import annotations

import asyncio

from appbase.app import LauncherApp, until_stopped
from outpost.backends.docker import DockerBackend
from outpost.config import OutpostConfig


class OutpostApp(LauncherApp):
    """Serve the Outpost REST API and start servers with a real JupyterHub spawner."""

    name = "nfdi-launcher-outpost"
    description = __doc__ or ""
    examples = """
    nfdi-launcher outpost --port 8090 --flavors flavors.yaml --db outpost.sqlite \\
        --credentials hubs.yaml
    """

    aliases = {
        **LauncherApp.aliases,
        "ip": "OutpostConfig.ip",
        "port": "OutpostConfig.port",
        "flavors": "OutpostConfig.flavors_path",
        "db": "OutpostConfig.db_path",
        "credentials": "OutpostConfig.credentials_file",
        "base-path": "OutpostConfig.base_path",
    }

    classes = [OutpostConfig, DockerBackend]

    def start(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from outpost.app import OutpostServer

        config = OutpostConfig(parent=self)
        server = OutpostServer(config)
        port = server.listen()
        await server.recover()
        # Printed for scripts (the stack, tests) that start us with --port 0.
        print(f"outpost listening on http://{config.ip}:{port}", flush=True)
        await until_stopped()
        # Servers keep running: a restarted Outpost picks them up from its database.
        await server.close()

