"""``nfdi-launcher stack --with-slurm``: the third system, ``hpc-slurm`` ("HPC (Slurm)").

What it adds to the stack, each a child process like the others:

- ``registry-tls``: a second ``docker-registry serve`` on the stack registry's storage that
  speaks https only, with the certificate scripts/setup.sh made from its local CA —
  Charliecloud pulls over https, nothing else;
- ``outpost-hpc``: an Outpost with the Slurm backend (batchspawner's SlurmSpawner, images
  run with Charliecloud), with its own flavors (``flavors-hpc.yaml``) and hub identity.

It uses a Slurm cluster that already runs (a site's; here the one scripts/setup.sh starts,
config in ``<NFDI_LAUNCHER_STATE>/slurm/slurm.conf``) and the site's directories under
``HpcStack.root``: ``charliecloud/storage`` (images, pulled once per digest) and
``hpc-users/<hub>/<user id>/work`` (what users keep in ``~/work``). Jobs run as the service
account ``nfdi-hpc``; the hub reaches the servers directly on loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jupyterhub.utils import random_port
from traitlets import Unicode
from traitlets.config import Configurable

from launcher.cli.stack_files import secret_file
from launcher.cli.stack_procs import Children
from launcher.cli.stack_state import Component
from launcher.systems import System, load_systems, write_systems

SYSTEM = "hpc-slurm"
DISPLAY_NAME = "HPC (Slurm)"
SETUP_STATE = Path(os.environ.get("NFDI_LAUNCHER_STATE", "/var/lib/nfdi-launcher"))

#: seconds a start on hpc-slurm may take: queue wait and, the first time, the image pull
HPC_START_TIMEOUT = 900

DEFAULT_HPC_FLAVORS = {
    "flavors": {
        "hpc-small": {"display_name": "HPC small: 1 CPU, 2 GB, 1 hour", "description":
                      "A Slurm job on the cluster's debug partition", "max": 4,
                      "maxPerUser": 2, "weight": 10, "runtime": {"hours": 1},
                      "start_timeout": HPC_START_TIMEOUT,
                      "resources": {"partition": "debug", "cpus": 1, "mem": "2G"}},
        "hpc-medium": {"display_name": "HPC medium: 2 CPU, 4 GB, 2 hours", "max": 2,
                       "maxPerUser": 1, "weight": 20, "runtime": {"hours": 2},
                       "start_timeout": HPC_START_TIMEOUT,
                       "resources": {"partition": "debug", "cpus": 2, "mem": "4G"}},
    },
}


class HpcError(Exception):
    """The site is not ready for ``--with-slurm`` (the message says what to do)."""


class HpcStack(Configurable):
    """Where ``stack --with-slurm`` finds the Slurm cluster and the site's directories."""

    slurm_conf = Unicode(
        str(SETUP_STATE / "slurm" / "slurm.conf"),
        help="slurm.conf of a running cluster (scripts/setup.sh starts one and puts it here).",
    ).tag(config=True)

    root = Unicode(
        str(SETUP_STATE),
        help="""Site directory with ``charliecloud/`` (image storage) and ``hpc-users/``
        (per-user directories), both owned by the job account (scripts/setup.sh makes them).""",
    ).tag(config=True)

    tls_dir = Unicode(
        str(SETUP_STATE / "tls"),
        help="""Directory with ``ca.crt`` and ``registry.crt``/``registry.key`` (made by
        scripts/setup.sh) for the registry's TLS endpoint that Charliecloud pulls from.""",
    ).tag(config=True)

    job_user = Unicode("nfdi-hpc", help="Unix account that runs the Slurm jobs.").tag(
        config=True)

    def check(self) -> None:
        """Fail early, with what to do, when the site is not there."""
        for path, what in ((Path(self.slurm_conf), "slurm.conf"),
                           (Path(self.root) / "charliecloud", "the Charliecloud directory"),
                           (Path(self.root) / "hpc-users", "the users' directory"),
                           (Path(self.tls_dir) / "ca.crt", "the local CA")):
            if not path.exists():
                raise HpcError(f"--with-slurm: {what} {path} is missing; run scripts/setup.sh")
        env = {**os.environ, "SLURM_CONF": self.slurm_conf}
        try:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,  # noqa: S603,S607
                                 env=env, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HpcError(f"--with-slurm: sinfo failed ({e}); run scripts/setup.sh") from e
        if out.returncode != 0:
            raise HpcError(f"--with-slurm: the Slurm cluster of {self.slurm_conf} does not "
                           f"answer ({out.stderr.strip()[:200]}); run scripts/setup.sh")


@dataclass(frozen=True)
class HpcPorts:
    registry_tls: int
    outpost: int


def write_tls_registry_config(state: Path, site: HpcStack, port: int) -> Path:
    """The https endpoint on the stack registry's storage (``registry.yml`` beside it)."""
    tls = Path(site.tls_dir)
    config = {"version": 0.1, "log": {"level": "warn"},
              "storage": {"filesystem": {"rootdirectory": str(state / "registry")},
                          "delete": {"enabled": True}},
              "http": {"addr": f"127.0.0.1:{port}",
                       "tls": {"certificate": str(tls / "registry.crt"),
                               "key": str(tls / "registry.key")}}}
    path = state / "registry-tls.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_hpc_outpost_files(state: Path, site: HpcStack, ports: HpcPorts, registry_url: str,
                            password: str, name_prefix: str) -> System:
    """Config, credentials and flavors of the Slurm Outpost; its system for the hub."""
    hub_name = f"stack-{SYSTEM}"
    creds = state / "outpost_hpc_credentials.yaml"
    creds.write_text(yaml.safe_dump({hub_name: password}))
    creds.chmod(0o600)
    flavors = state / "flavors-hpc.yaml"
    if not flavors.exists():
        flavors.write_text(yaml.safe_dump(DEFAULT_HPC_FLAVORS, sort_keys=False))
    registry = registry_url.removeprefix("http://")
    settings = {
        "slurm_conf": site.slurm_conf, "job_user": site.job_user,
        # a hub with per-user rights (--oidc) sends the account the user holds on the
        # cluster (user_options.hpc.account, checked at the hub); here that is the job account
        "allowed_accounts": re.escape(site.job_user),
        "storage_root": str(Path(site.root) / "hpc-users"),
        "charliecloud_storage": str(Path(site.root) / "charliecloud" / "storage"),
        "image_rewrites": {f"{registry}/": f"127.0.0.1:{ports.registry_tls}/"},
        "ca_bundle": str(Path(site.tls_dir) / "ca.crt"),
        "server_ip": "127.0.0.1", "service_host": "127.0.0.1",
    }
    text = "# Generated by nfdi-launcher stack --with-slurm (rewritten on every start).\n"
    text += textwrap.dedent(f"""\
        c.OutpostConfig.port = {ports.outpost}
        c.OutpostConfig.db_path = {str(state / 'outpost-hpc.sqlite')!r}
        c.OutpostConfig.flavors_path = {str(flavors)!r}
        c.OutpostConfig.credentials_file = {str(creds)!r}
        c.OutpostConfig.name_prefix = {name_prefix + 'hpc-'!r}
        c.OutpostConfig.allowed_image_prefixes = {[f'{registry}/']!r}
        c.OutpostConfig.backend_class = "outpost.backends.slurm.SlurmBackend"
        """)
    text += "".join(f"c.SlurmBackend.{k} = {v!r}\n" for k, v in settings.items())
    path = state / "outpost_hpc_config.py"
    path.write_text(text)
    path.chmod(0o600)
    return System(name=SYSTEM, url=f"http://127.0.0.1:{ports.outpost}/services",
                  hub_name=hub_name, password=password, display_name=DISPLAY_NAME,
                  needs_project=True)


def hpc_hub_config() -> str:
    """Hub settings for a system whose starts wait in a queue and pull large images."""
    return textwrap.dedent(f"""
        # --with-slurm: a Slurm start may wait in the queue and pull the image first
        c.Spawner.start_timeout = {HPC_START_TIMEOUT + 60}
        c.OutpostSpawner.request_kwargs_start = {{"request_timeout": {HPC_START_TIMEOUT + 30},
                                                  "connect_timeout": 10}}
        """)


def add_system(systems_file: Path, system: System) -> None:
    """Offer *system* to the hub and the launcher beside the stack's other systems."""
    systems = load_systems(systems_file)
    systems[system.name] = system
    write_systems(systems_file, list(systems.values()))


def cancel_jobs(site: HpcStack, name_prefix: str) -> None:
    """Jobs of this stack's Slurm Outpost that outlived it (the hub normally stops them)."""
    env = {**os.environ, "SLURM_CONF": site.slurm_conf}
    squeue = shutil.which("squeue")
    if squeue is None:
        return
    out = subprocess.run([squeue, "-h", "-o", "%i %j"], capture_output=True, text=True,  # noqa: S603
                         env=env, timeout=30)
    ids = [line.split()[0] for line in out.stdout.splitlines()
           if len(line.split()) == 2 and line.split()[1].startswith(name_prefix + "hpc-")]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, env=env, timeout=30)  # noqa: S603,S607


def start_hpc(site: HpcStack, state: Path, children: Children, registry_url: str,
              systems_file: Path, wait: Callable[..., Any]) -> tuple[list[Component], str]:
    """Start the TLS endpoint and the Slurm Outpost, add ``hpc-slurm`` to the systems file;
    the components and a line for the person who started the stack. *wait* is the stack's
    ``_wait(children, url, what, ...)``."""
    site.check()
    binary = shutil.which("docker-registry")
    if not (registry_url and binary):
        raise HpcError("--with-slurm needs the stack's registry (Charliecloud pulls from it)")
    ports = HpcPorts(registry_tls=random_port(), outpost=random_port())
    config = write_tls_registry_config(state, site, ports.registry_tls)
    tls_url = f"https://127.0.0.1:{ports.registry_tls}"
    proc = children.spawn("registry-tls", [binary, "serve", str(config)])
    wait(children, tls_url + "/v2/", "the registry's TLS endpoint",
         verify=str(Path(site.tls_dir) / "ca.crt"))
    comps = [Component("registry-tls", proc.pid, tls_url, str(children.log_path("registry-tls")))]
    password = secret_file(state / "outpost-password-hpc-slurm", 24)[0]
    prefix = (state / "name-prefix").read_text().strip()
    system = write_hpc_outpost_files(state, site, ports, registry_url, password, prefix)
    command = [str(Path(sys.executable).parent / "nfdi-launcher"), "outpost", "--config",
               str(state / "outpost_hpc_config.py")]
    proc = children.spawn("outpost-hpc", command)
    outpost = f"http://127.0.0.1:{ports.outpost}"
    wait(children, outpost + "/ping", "the Slurm Outpost")
    comps.append(Component("outpost-hpc", proc.pid, outpost, str(children.log_path("outpost-hpc"))))
    add_system(systems_file, system)
    return comps, (f"system {system.name} ({system.display_name}): Slurm jobs on "
                   f"{site.slurm_conf} through the Outpost at {outpost}; Charliecloud pulls "
                   f"from {tls_url}")
