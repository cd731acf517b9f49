"""``nfdi-launcher stack --anonymous`` and the idle culler (hub configuration text).

Anonymous mode works like mybinder.org: nobody logs in; each launch runs as a new temporary
hub user that the launcher creates, and the browser reaches the server with the launch's
token in the URL (which single-user servers accept only when told so, as BinderHub's
spawner does). What such a user writes under ``~/work`` lives in that temporary user's
volume: it is there while the server runs, and no later launch sees it.

The culler is JupyterHub's own ``jupyterhub-idle-culler``, run by the hub as a managed
service. It stops (and removes) named servers idle for longer than the timeout; in anonymous
mode it also deletes the temporary users once they have no server. The logged-in stack can
use it too (``--cull-timeout``); it never deletes logged-in users there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

#: mybinder.org's timeout: 600 s idle, checked every 60 s
ANONYMOUS_CULL_TIMEOUT = 600


@dataclass(frozen=True)
class Culler:
    timeout: int  # seconds of inactivity
    every: int  # seconds between checks
    cull_users: bool

    @classmethod
    def for_timeout(cls, timeout: int, cull_users: bool) -> Culler:
        # check often enough that a server never lives much longer than its timeout
        return cls(timeout=timeout, every=max(5, min(60, timeout // 4)), cull_users=cull_users)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={self.timeout}",
               f"--cull-every={self.every}", "--remove-named-servers=true"]
        if self.cull_users:
            cmd.append("--cull-users=true")
        return cmd

    def scopes(self) -> list[str]:
        scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
        if self.cull_users:
            scopes.append("admin:users")
        return scopes

    def activity_interval(self) -> int:
        """How often the hub reads activity from the proxy: well within the timeout, so a
        server someone uses is not taken for idle (the hub's default is 300 s)."""
        return max(5, min(300, self.timeout // 3))


def culler_hub_config(culler: Culler) -> str:
    """Lines for ``jupyterhub_config.py`` (after :func:`launcher.hubconfig.configure_hub`)."""
    return "\n".join([
        "# Idle culler (jupyterhub-idle-culler) as a hub-managed service",
        "c.JupyterHub.services.append({'name': 'idle-culler', "
        f"'command': {culler.command()!r}}})",
        "c.JupyterHub.load_roles.append({'name': 'idle-culler', 'services': ['idle-culler'], "
        f"'scopes': {culler.scopes()!r}}})",
        f"c.JupyterHub.last_activity_interval = {culler.activity_interval()}",
        "",
    ])


def anonymous_hub_config() -> str:
    """Lines for ``jupyterhub_config.py`` in anonymous mode."""
    return "\n".join([
        "# Anonymous mode: browsers open a temporary user's server with the launch token",
        "c.Spawner.environment.update({'JUPYTERHUB_ALLOW_TOKEN_IN_URL': '1'})",
        "",
    ])
