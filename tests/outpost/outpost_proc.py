"""Run the real ``nfdi-launcher outpost`` as a process (restartable) and build hub snippets.

Every Outpost gets its own name prefix ``nfdi-test-outpost-<hex>-`` for containers and
volumes; :meth:`OutpostProc.cleanup` removes exactly those.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from launcher.systems import System, write_systems
from tests.harness.hub import BASE_IMAGE, VENV_BIN, free_port, wait_for

FLAVORS: dict[str, Any] = {
    "flavors": {
        "small": {"max": 4, "maxPerUser": 2, "weight": 10, "display_name": "Small",
                  "description": "1 CPU, 1 GB", "resources": {"cpu_limit": 1, "mem_limit": "1G"}},
        "large": {"max": 1, "maxPerUser": 1, "weight": 5, "display_name": "Large",
                  "resources": {"cpu_limit": 2, "mem_limit": "2G"}},
        "hubb-only": {"max": -1, "weight": 1},
    },
    "hubs": {
        "first": {"jupyterhub_name": ["hub-a"], "flavors": ["small", "large"], "weight": 10},
        "second": {"jupyterhub_name": "hub-b.*", "flavors": ["small", "hubb-only"], "weight": 5},
    },
}


@dataclass
class OutpostProc:
    workdir: Path
    credentials: dict[str, str]
    prefix: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    restarts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self, hub: str) -> tuple[str, str]:
        return (hub, self.credentials[hub])

    def request(self, method: str, path: str, hub: str | None = "hub-a",
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("auth", self.auth(hub) if hub else None)
        return requests.request(method, self.url + path, timeout=120, **kwargs)

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        with (self.workdir / f"outpost-{self.restarts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "nfdi-launcher"), "outpost", "--config",
                 str(self.workdir / "nfdi_launcher_config.py"), "--debug"],
                cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"})
        proc = self.process

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"outpost exited {proc.returncode}:\n{self.log_tail()}")
            return requests.get(self.url + "/ping", timeout=2).status_code == 200

        wait_for(answers, 30, "the Outpost to answer /ping")

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / f"outpost-{self.restarts}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def containers(self) -> list[str]:
        out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter",
                              f"name=^{self.prefix}"], capture_output=True, text=True,
                             timeout=30, check=True)
        return out.stdout.split()

    def volumes(self) -> list[str]:
        out = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                              f"name=^{self.prefix}"], capture_output=True, text=True,
                             timeout=30, check=True)
        return out.stdout.split()

    def cleanup(self) -> None:
        self.stop()
        names = self.containers()
        if names:
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True, timeout=60)
        vols = self.volumes()
        if vols:
            subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True,
                           timeout=60)


def make_outpost(workdir: Path, *, flavors: dict[str, Any] | None = None,
                 hubs: tuple[str, ...] = ("hub-a", "hub-b1"), extra_config: str = "",
                 ) -> OutpostProc:
    """Write config, credentials and flavors into *workdir* and start the Outpost."""
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"nfdi-test-outpost-{secrets.token_hex(3)}-"
    creds = {hub: secrets.token_urlsafe(16) for hub in hubs}
    (workdir / "hubs.yaml").write_text(yaml.safe_dump(creds))
    (workdir / "flavors.yaml").write_text(yaml.safe_dump(FLAVORS if flavors is None else flavors))
    port = free_port()
    (workdir / "nfdi_launcher_config.py").write_text(textwrap.dedent(f"""\
        c.OutpostServer.port = {port}
        c.Outpost.db_path = {str(workdir / 'outpost.sqlite')!r}
        c.Outpost.flavors_path = {str(workdir / 'flavors.yaml')!r}
        c.Outpost.credentials_file = {str(workdir / 'hubs.yaml')!r}
        c.Outpost.name_prefix = {prefix!r}
        c.DockerBackend.pull_policy = "never"
        """) + extra_config)
    proc = OutpostProc(workdir=workdir, credentials=creds, prefix=prefix, port=port)
    proc.start()
    return proc


def derived_image(kind: str, cmd: str) -> str:
    """The base image plus a marker file in the home, with *cmd* as its CMD (JSON); the
    caller removes it (``docker rmi``)."""
    tag = f"local/nfdi-test-outpost-{kind}:{secrets.token_hex(4)}"
    name = f"nfdi-test-outpost-mk-{secrets.token_hex(4)}"
    subprocess.run(["docker", "run", "--name", name, "--network", "none", BASE_IMAGE, "sh", "-c",
                    f"echo {kind} > /home/jovyan/{kind.upper()}_IMAGE"], check=True,
                   capture_output=True, timeout=120)
    try:
        subprocess.run(["docker", "commit", "--change", f"CMD {cmd}", name, tag], check=True,
                       capture_output=True, timeout=120)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    return tag


def hub_snippet(outpost: OutpostProc, hub_name: str, systems: tuple[str, ...] = ("sys-a",),
                poll_ms: int = 2000, password: str | None = None) -> str:
    """jupyterhub_config.py lines: the project's OutpostSpawner config against *outpost*."""
    path = outpost.workdir / f"systems-{hub_name}.json"
    write_systems(path, [System(name=s, url=outpost.url + "/services", hub_name=hub_name,
                                password=password or outpost.credentials[hub_name],
                                display_name=s) for s in systems])
    return textwrap.dedent(f"""
        from launcher.hubconfig import configure_spawner
        from launcher.systems import load_systems
        configure_spawner(c, load_systems({str(path)!r}), poll_interval_ms={poll_ms})
        c.Spawner.start_timeout = 90
        """)


def user_options(system: str = "sys-a", flavor: str = "small", image: str = BASE_IMAGE,
                 **extra: Any) -> dict[str, Any]:
    """Jupyter-JSC user_options as the launcher sends them."""
    return {"service": "jupyterlab", "option": "custom", "profile": "custom", "name": "test",
            "system": system, "flavor": flavor, "custom": {"customimage": image},
            "storage": {"localstoragepath": "/home/jovyan/work"}, **extra}


def start_body(name: str = "srv", user: str = "alice", user_id: str = "7",
               start_id: str = "s1", api_url: str = "", **uo: Any) -> dict[str, Any]:
    """A POST /services body like the OutpostSpawner's.

    *api_url* is the hub API the server reports to: a single-user server of JupyterHub 6
    only listens after it reached its hub (``check_hub_version``), so a start that must
    become ready needs a real hub's API URL here (the ``hub`` fixture's)."""
    options = user_options(**uo)
    options["start_id"] = start_id
    env = {"JUPYTERHUB_USER": user, "JUPYTERHUB_USER_ID": user_id,
           "JUPYTERHUB_API_TOKEN": secrets.token_hex(16),
           "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:1/user/{user}/{name}/",
           "JUPYTERHUB_SERVICE_PREFIX": f"/user/{user}/{name}/"}
    if api_url:
        env["JUPYTERHUB_API_URL"] = api_url
    return {"name": name, "env": env, "user_options": options, "misc": {}, "certs": {},
            "internal_trust_bundles": {}}
