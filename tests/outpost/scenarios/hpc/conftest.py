"""HPC scenario: a real JupyterHub with the real OutpostSpawner, our Outpost with the Slurm
backend, a private Slurm cluster, Charliecloud, and the registry's TLS endpoint.

Session-wide (they cost the most): the cluster, the Charliecloud storage (so every image
is pulled once per session), and the two images — the ``rees-dockerfile`` scenario built
by ``nfdi-launcher build`` (repo2docker) into the session registry, and the base image
pushed beside it (``other_image``, to show that ``~/work`` follows the user to another image).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.harness.gitserver import GitServer
from tests.harness.hub import BASE_IMAGE, Hub, progress_events, wait_for
from tests.harness.registry import Registry
from tests.harness.slurm import HpcSite
from tests.harness.sshd import LoginNode
from tests.outpost.outpost_proc import OutpostProc, hub_snippet, make_outpost, user_options

VENV_BIN = Path(sys.executable).parent
SYSTEM = "hpc-slurm"
PREFIX = f"nfdi-test-hpc-{secrets.token_hex(3)}-"

HPC_FLAVORS: dict[str, Any] = {
    "flavors": {
        "hpc-small": {"max": -1, "weight": 10, "display_name": "HPC small",
                      "description": "1 CPU, 1 GB, 1 hour", "runtime": {"hours": 1},
                      "resources": {"partition": "debug", "cpus": 1, "mem": "1G"}},
        "hpc-short": {"max": -1, "weight": 5, "display_name": "HPC 1 minute",
                      "runtime": {"minutes": 1},
                      "resources": {"partition": "debug", "cpus": 1, "mem": "1G"}},
    },
}


@dataclass(frozen=True)
class HpcImages:
    scenario: str  # built by repo2docker: name:tag@sha256:digest, as the builder prints it
    other: str  # the plain base image, name:tag


@pytest.fixture(scope="session")
def hpc_images(registry: Registry, git_server: GitServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[HpcImages]:
    rewrites = {"https://git.example.org/hpc/rees": git_server.url_for("rees-dockerfile")}
    state = tmp_path_factory.mktemp("hpc-build")
    out = subprocess.run(
        [str(VENV_BIN / "nfdi-launcher"), "build", "--registry", registry.url, "--state-dir",
         str(state), "--image-prefix", PREFIX, "https://git.example.org/hpc/rees"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)})
    assert out.returncode == 0, out.stderr[-3000:]
    scenario = out.stdout.strip().splitlines()[-1]
    other = f"{registry.host}/{PREFIX}base:6.1.1"
    subprocess.run(["docker", "tag", BASE_IMAGE, other], check=True, capture_output=True)
    subprocess.run(["docker", "push", other], check=True, capture_output=True, timeout=600)
    yield HpcImages(scenario=scenario, other=other)
    local = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                           capture_output=True, text=True).stdout.split()
    mine = [ref for ref in local if PREFIX in ref]
    if mine:
        subprocess.run(["docker", "rmi", "--force", *mine], capture_output=True)


def slurm_config(site: HpcSite, registry: Registry, tls: Registry, **traits: Any) -> str:
    """Outpost config lines for the Slurm backend on *site*."""
    settings: dict[str, Any] = {
        "slurm_conf": str(site.cluster.conf),
        "storage_root": str(site.users),
        "charliecloud_storage": str(site.charliecloud),
        "image_rewrites": {f"{registry.host}/": f"{tls.host}/"},
        "ca_bundle": tls.ca,
        "server_ip": "127.0.0.1",
        "service_host": "127.0.0.1",
        "poll_interval": 0.5,
        **traits,
    }
    lines = ['c.OutpostConfig.backend_class = "outpost.backends.slurm.SlurmBackend"']
    lines += [f"c.SlurmBackend.{k} = {v!r}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


@dataclass
class HpcOutpost:
    proc: OutpostProc
    site: HpcSite

    def jobs(self) -> list[dict[str, str]]:
        return [j for j in self.site.cluster.jobs() if j["name"].startswith(self.proc.prefix)]


@pytest.fixture
def hpc_outpost_factory(hpc_site: HpcSite, registry: Registry, tls_registry: Registry,
                        tmp_path_factory: pytest.TempPathFactory,
                        ) -> Iterator[Callable[..., HpcOutpost]]:
    made: list[HpcOutpost] = []

    def make(**traits: Any) -> HpcOutpost:
        extra = slurm_config(hpc_site, registry, tls_registry, **traits)
        proc = make_outpost(tmp_path_factory.mktemp("hpc-outpost"), flavors=HPC_FLAVORS,
                            extra_config=extra)
        made.append(HpcOutpost(proc=proc, site=hpc_site))
        return made[-1]

    yield make
    for outpost in made:
        outpost.proc.stop()
        hpc_site.cluster.cancel_all(outpost.proc.prefix)


@pytest.fixture
def hpc_outpost(hpc_outpost_factory: Callable[..., HpcOutpost]) -> HpcOutpost:
    return hpc_outpost_factory()


def hpc_hub_config(outpost: HpcOutpost, tunnel: LoginNode | None = None,
                   key: str = "") -> str:
    """The project's hub config for the Slurm system (+ the tunnel hooks)."""
    text = hub_snippet(outpost.proc, "hub-a", systems=(SYSTEM,), poll_ms=2000)
    text += "c.Spawner.start_timeout = 300\nc.Spawner.http_timeout = 120\n"
    if tunnel is not None:
        spec = {"ssh_node": "127.0.0.1", "ssh_port": tunnel.port, "ssh_username": tunnel.user,
                "ssh_key": key or str(tunnel.key), "known_hosts": str(tunnel.known_hosts),
                "allowed_hosts": r"127\.0\.0\.1"}
        text += textwrap.dedent(f"""
            from launcher.tunnel import Tunnel, configure_tunnels
            configure_tunnels(c, {{{SYSTEM!r}: Tunnel(**{spec!r})}},
                              {str(outpost.proc.workdir / 'hub-tunnels')!r})
            """)
    return text


def hpc_options(image: str, flavor: str = "hpc-small", **extra: Any) -> dict[str, Any]:
    return user_options(system=SYSTEM, flavor=flavor, image=image, **extra)


def spawn(hub: Hub, user: str, server: str, options: dict[str, Any],
          timeout: float = 300) -> list[dict[str, Any]]:
    hub.ensure_user(user)
    r = hub.api("POST", f"/users/{user}/servers/{server}", json=options)
    assert r.status_code in (201, 202), r.text
    return progress_events(hub, user, server, timeout=timeout)


def server_of(hub: Hub, user: str, server: str) -> dict[str, Any] | None:
    servers: dict[str, Any] = hub.api("GET", f"/users/{user}").json().get("servers", {})
    return servers.get(server)


def lab(hub: Hub, path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
    return requests.request(method, hub.url.rstrip("/") + path, timeout=30,
                            headers={"Authorization": f"token {hub.token}"}, **kwargs)


def wait_stopped(hub: Hub, user: str, server: str, timeout: float = 120) -> None:
    wait_for(lambda: not (server_of(hub, user, server) or {}).get("ready")
             and not (server_of(hub, user, server) or {}).get("pending"), timeout,
             f"the hub to show {user}/{server} stopped")


def messages(events: list[dict[str, Any]]) -> str:
    return "\n".join(str(e.get("message") or e.get("html_message") or "") for e in events)
