"""``nfdi-launcher outpost``: run an Outpost (JupyterHub Outpost REST API) on this host."""

from __future__ import annotations

import asyncio

from appbase.app import LauncherApp, until_stopped
from outpost.app import OutpostServer
from outpost.backends.docker import DockerBackend
from outpost.manager import Outpost

#: settings of the former ``OutpostConfig`` and the class that has each now
RENAMED = {
    **{f"OutpostConfig.{name}": f"OutpostServer.{name}"
       for name in ("ip", "port", "base_path", "check_interval")},
    **{f"OutpostConfig.{name}": f"Outpost.{name}"
       for name in ("flavors_path", "db_path", "credentials_file", "allowed_image_prefixes",
                    "default_image", "name_prefix", "backend_class", "send_events",
                    "event_timeout", "ready_check_interval", "exit_check_interval")},
}


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
        "ip": "OutpostServer.ip",
        "port": "OutpostServer.port",
        "base-path": "OutpostServer.base_path",
        "flavors": "Outpost.flavors_path",
        "db": "Outpost.db_path",
        "credentials": "Outpost.credentials_file",
    }

    classes = [OutpostServer, Outpost, DockerBackend]
    plugin_classes = ["outpost.backends.kubernetes.KubernetesBackend"]

    renamed_config = RENAMED

    def start(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            server = OutpostServer(parent=self)
        except ValueError as err:  # e.g. a hub without a password: say what, do not start
            self.log.critical("cannot start the Outpost: %s", err)
            self.exit(2)
        port = server.listen()
        await server.recover()
        # Printed for scripts (the stack, tests) that start us with --port 0.
        print(f"outpost listening on http://{server.ip}:{port}", flush=True)
        await until_stopped()
        # Servers keep running: a restarted Outpost picks them up from its database.
        await server.close()
