"""The hub's end of the OutpostSpawner's delayed SSH tunnel (HPC systems), loopback only.

For a system whose Outpost answers a start with an empty address (its compute nodes are
not reachable from the hub), the job later POSTs ``{"service": "<node>:<port>",
"ssh_node": "<login node>"}`` to the hub's ``/hub/api/users/setuptunnel/<user>/<server>``
(forwardbasespawner's handler, authenticated with the server's own token). The hub then
runs the ``ssh_custom_forward`` hook below: ``ssh -L 127.0.0.1:<spawner.port>:<node>:<port>``
through the login node, one master connection per server (its control socket under the
hub's state directory), and expects the server at ``http://127.0.0.1:<spawner.port>``.

Why not forwardbasespawner's default forward: it binds ``0.0.0.0`` on the hub, runs ssh as
uid 1000 through a shell, expects a Kubernetes Service, and takes the SSH node, user, key
and options from the POST body — which any holder of the server's token can send. Here the
body only chooses among what the operator configured: the login node must be the system's
``ssh_node``, the target host must match ``allowed_hosts``, and key, user, port and
``known_hosts`` come from the configuration. The login node should still restrict the key
(``restrict,port-forwarding,permitopen="<nodes>:*"`` in authorized_keys).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PORT = re.compile(r"[0-9]{1,5}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,253}")


class TunnelError(Exception):
    """A tunnel request that cannot be honoured (the hub shows the text to the user)."""


@dataclass(frozen=True)
class Tunnel:
    """How the hub reaches one system's login node."""

    ssh_node: str
    ssh_key: str
    known_hosts: str
    ssh_port: int = 22
    ssh_username: str = "nfdi-tunnel"
    allowed_hosts: str = r"[A-Za-z0-9][A-Za-z0-9.-]*"
    timeout: float = 30.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tunnel:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def target_of(tunnel: Tunnel, info: dict[str, Any]) -> tuple[str, int]:
    """``(host, port)`` of the server named in a setuptunnel body, checked."""
    service = str(info.get("service") or "").removeprefix("http://").removeprefix("https://")
    host, _, port = service.rpartition(":")
    if not (_NAME.fullmatch(host) and _PORT.fullmatch(port) and 0 < int(port) < 65536):
        raise TunnelError(f"tunnel request: service {service[:80]!r} is not <host>:<port>")
    if not re.fullmatch(tunnel.allowed_hosts, host):
        raise TunnelError(f"tunnel request: host {host!r} is not a node of this system")
    node = str(info.get("ssh_node") or tunnel.ssh_node)
    if node != tunnel.ssh_node:
        raise TunnelError(f"tunnel request: login node {node[:80]!r} is not {tunnel.ssh_node}")
    return host, int(port)


def control_path(state_dir: str | Path, spawner: Any) -> Path:
    """One control socket per server (short: Unix socket paths are limited to ~100 bytes)."""
    key = f"{spawner.user.name}/{spawner.name}".encode()
    return Path(state_dir) / "tunnels" / f"{hashlib.sha256(key).hexdigest()[:20]}.sock"


def forward_command(tunnel: Tunnel, control: Path, local_port: int, host: str,
                    port: int) -> list[str]:
    """``ssh`` that opens a master connection with one local forward, then goes to the
    background once the forward is up (or exits non-zero with the reason)."""
    options = {"BatchMode": "yes", "ExitOnForwardFailure": "yes", "IdentitiesOnly": "yes",
               "StrictHostKeyChecking": "yes", "UserKnownHostsFile": tunnel.known_hosts,
               "ServerAliveInterval": "15", "ConnectTimeout": "10", "ControlMaster": "yes",
               "ControlPath": str(control)}
    cmd = ["ssh", "-f", "-N", "-i", tunnel.ssh_key, "-p", str(tunnel.ssh_port)]
    for key, value in options.items():
        cmd += ["-o", f"{key}={value}"]
    return [*cmd, "-L", f"127.0.0.1:{local_port}:{host}:{port}",
            f"{tunnel.ssh_username}@{tunnel.ssh_node}"]


async def _run(cmd: list[str], log: Path, timeout: float) -> int:
    # stderr to a file: the backgrounded ssh keeps it open, a pipe would never reach EOF.
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=err)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise TunnelError(f"ssh did not connect within {timeout:.0f} s") from None


async def close(control: Path, tunnel: Tunnel) -> None:
    if control.exists():
        await _run(["ssh", "-o", f"ControlPath={control}", "-O", "exit",
                    f"{tunnel.ssh_username}@{tunnel.ssh_node}"],
                   control.with_suffix(".exit.log"), tunnel.timeout)
    control.unlink(missing_ok=True)


class TunnelHooks:
    """The OutpostSpawner hooks for the systems in *tunnels* (others stay direct)."""

    def __init__(self, tunnels: dict[str, Tunnel], state_dir: str | Path) -> None:
        self.tunnels = tunnels
        self.state_dir = Path(state_dir)

    def tunnel_of(self, spawner: Any) -> Tunnel | None:
        return self.tunnels.get(str((spawner.user_options or {}).get("system", "")))

    async def forward(self, spawner: Any, info: dict[str, Any]) -> None:
        tunnel = self.tunnel_of(spawner)
        if tunnel is None:
            raise TunnelError("this system is reached directly; it takes no tunnel requests")
        host, port = target_of(tunnel, info)
        # forwardbasespawner's port_forward_info starts as one dict shared by all spawners
        spawner.port_forward_info = dict(info)
        control = control_path(self.state_dir, spawner)
        control.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        await close(control, tunnel)  # a tunnel of an earlier start of this server
        log = control.with_suffix(".log")
        cmd = forward_command(tunnel, control, int(spawner.port), host, port)
        spawner.nfdi_tunnel_error = ""
        if await _run(cmd, log, tunnel.timeout) != 0:
            reason = log.read_text(errors="replace").strip().splitlines()[-3:]
            spawner.nfdi_tunnel_error = (f"ssh to {tunnel.ssh_username}@{tunnel.ssh_node}:"
                                         f"{tunnel.ssh_port} failed: {' '.join(reason)}")
            # into the progress stream the user watches (the hub then cancels the spawn)
            spawner.events.append(self.failed_event(spawner.nfdi_tunnel_error))
            raise TunnelError(spawner.nfdi_tunnel_error)
        spawner.log.info("tunnel 127.0.0.1:%s -> %s:%s via %s", spawner.port, host, port,
                         tunnel.ssh_node)

    async def remove(self, spawner: Any, info: dict[str, Any]) -> None:
        tunnel = self.tunnel_of(spawner)
        if tunnel is not None:
            await close(control_path(self.state_dir, spawner), tunnel)

    def ready_event(self, spawner: Any, event: dict[str, Any]) -> dict[str, Any]:
        """``progress_ready_hook``: never "ready" for a server whose tunnel failed.

        forwardbasespawner cancels the spawn when the tunnel fails, and for a moment
        JupyterHub takes the half-started server for ready; the user sees why instead."""
        error = getattr(spawner, "nfdi_tunnel_error", "")
        if self.tunnel_of(spawner) is None or not error:
            return event
        return self.failed_event(error)

    @staticmethod
    def failed_event(error: str) -> dict[str, Any]:
        message = f"Could not set up the SSH tunnel to the server: {error}"
        return {"progress": 100, "failed": True, "message": message,
                "html_message": html.escape(message)}

    def expected_path(self, spawner: Any, url: str) -> str:
        """Tunnel systems answer on the hub's own loopback port (no k8s Service)."""
        if self.tunnel_of(spawner) is None:
            return url
        return f"http://127.0.0.1:{spawner.port}"


def configure_tunnels(c: Any, tunnels: dict[str, Tunnel], state_dir: str | Path) -> None:
    """Install the hooks on the OutpostSpawner (after :func:`configure_spawner`)."""
    hooks = TunnelHooks(tunnels, state_dir)
    c.OutpostSpawner.ssh_custom_forward = hooks.forward
    c.OutpostSpawner.ssh_custom_forward_remove = hooks.remove
    c.OutpostSpawner.update_expected_path = hooks.expected_path
    c.OutpostSpawner.progress_ready_hook = hooks.ready_event
    c.OutpostSpawner.svc_create = False
