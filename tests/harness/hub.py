"""A real JupyterHub 6 with configurable-http-proxy on loopback, for tests and benchmarks.

Everything listens on 127.0.0.1 with free ports. The default spawner is DockerSpawner
in host-network mode (``LoopbackDockerSpawner`` below): each single-user container
shares the host's network namespace and binds 127.0.0.1:<random port>, so no traffic
leaves loopback (the bridge variant would put the hub on docker0).

API::

    hub = start_hub(workdir, config="c.Spawner.start_timeout = 60")
    hub.url        # public proxy URL, e.g. "http://127.0.0.1:40001/"
    hub.api_url    # "http://127.0.0.1:40001/hub/api"
    hub.token      # API token of the service "launcher" (admin:users, admin:servers, ...)
    hub.api("POST", "/users/alice")              # requests.Response
    hub.start_server("alice", "demo", {"image": "local/jupyter-base:6.1.1"})
    hub.stop()

Fixtures: ``hub_factory`` (function scope; call it with keyword args of
:func:`start_hub`, every hub it made is stopped afterwards) and ``hub`` (one default
hub per test module).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

BASE_IMAGE = "local/jupyter-base:6.1.1"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll *predicate* until it returns a truthy value; fail with *what* after *timeout* s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the service may not accept connections yet
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


# Loopback-only DockerSpawner: host networking, a fresh port per start.
_SPAWNER_CODE = '''
from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port

class LoopbackDockerSpawner(DockerSpawner):
    """DockerSpawner on the host network, bound to 127.0.0.1 (no docker0 traffic)."""

    async def start(self):
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self):
        return "127.0.0.1", self.port
'''


def render_config(*, workdir: Path, hub_id: str, ports: dict[str, int], token: str,
                  services: list[dict[str, Any]], extra: str, spawner: str) -> str:
    """The jupyterhub_config.py text for one test hub (pure)."""
    allowed_prefixes = ("local/", "127.0.0.1:")
    lines = [
        "c = get_config()  # noqa",
        f"c.JupyterHub.bind_url = 'http://127.0.0.1:{ports['proxy']}'",
        "c.JupyterHub.hub_ip = '127.0.0.1'",
        "c.JupyterHub.hub_connect_ip = '127.0.0.1'",
        f"c.JupyterHub.hub_port = {ports['hub']}",
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{ports['proxy_api']}'",
        "c.ConfigurableHTTPProxy.should_start = True",
        f"c.JupyterHub.db_url = 'sqlite:///{workdir}/jupyterhub.sqlite'",
        f"c.JupyterHub.cookie_secret_file = '{workdir}/jupyterhub_cookie_secret'",
        f"c.JupyterHub.pid_file = '{workdir}/jupyterhub.pid'",
        "c.JupyterHub.authenticator_class = 'dummy'",
        "c.Authenticator.allow_all = True",
        "c.JupyterHub.allow_named_servers = True",
        "c.JupyterHub.cleanup_servers = True",
        "c.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}",
        "c.Spawner.start_timeout = 120",
        "c.Spawner.http_timeout = 60",
        f"c.JupyterHub.services = {services!r}",
        "c.JupyterHub.load_roles = [{'name': 'launcher-service', 'services': ['launcher'],"
        " 'scopes': ['admin:users', 'admin:servers', 'access:servers', 'read:users',"
        " 'tokens', 'admin-ui', 'list:users', 'read:users:activity']}]",
    ]
    if spawner == "docker":
        lines += [
            _SPAWNER_CODE,
            "c.JupyterHub.spawner_class = LoopbackDockerSpawner",
            f"c.DockerSpawner.image = {BASE_IMAGE!r}",
            "c.DockerSpawner.network_name = 'host'",
            "c.DockerSpawner.use_internal_ip = True",
            "c.DockerSpawner.remove = True",
            "c.DockerSpawner.pull_policy = 'ifnotpresent'",
            f"c.DockerSpawner.name_template = 'nfdi-test-hub-{hub_id}-{{username}}--{{servername}}'",
            "c.DockerSpawner.notebook_dir = '/home/jovyan'",
            # Only images built here (local/...) or pushed to a loopback registry.
            "c.DockerSpawner.allowed_images = lambda spawner: {"
            "img: img for img in [spawner.user_options.get('image') or "
            f"{BASE_IMAGE!r}, {BASE_IMAGE!r}] if img.startswith({allowed_prefixes!r})}}",
        ]
    lines.append(textwrap.dedent(extra))
    return "\n".join(lines) + "\n"


@dataclass
class Hub:
    """A running JupyterHub; see the module docstring."""

    workdir: Path
    hub_id: str
    url: str
    api_url: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)

    def api(self, method: str, path: str, json: Any = None, timeout: float = 30,
            **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.api_url + path, json=json, headers=headers,
                                timeout=timeout, **kwargs)

    def ensure_user(self, name: str) -> None:
        r = self.api("POST", f"/users/{name}")
        if r.status_code not in (201, 409):
            raise RuntimeError(f"creating hub user {name}: {r.status_code} {r.text}")

    def start_server(self, user: str, server: str, user_options: dict[str, Any],
                     timeout: float = 120) -> str:
        """Start a named server and wait until ready; return its URL path prefix."""
        self.ensure_user(user)
        r = self.api("POST", f"/users/{user}/servers/{server}", json=user_options)
        if r.status_code not in (201, 202):
            raise RuntimeError(f"spawn failed: {r.status_code} {r.text}")

        def ready() -> str | None:
            info = self.api("GET", f"/users/{user}").json()
            srv = info.get("servers", {}).get(server)
            if srv and srv.get("ready"):
                return str(srv["url"])
            if not srv or (not srv.get("pending") and not srv.get("ready")):
                raise RuntimeError(f"server {user}/{server} is gone; hub log:\n{self.log_tail()}")
            return None

        return str(wait_for(ready, timeout, f"server {user}/{server} to be ready"))

    def stop_server(self, user: str, server: str, timeout: float = 60) -> None:
        self.api("DELETE", f"/users/{user}/servers/{server}", json={"remove": True})

        def gone() -> bool:
            info = self.api("GET", f"/users/{user}").json()
            return server not in info.get("servers", {})

        wait_for(gone, timeout, f"server {user}/{server} to stop")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGTERM makes the hub stop its servers and the proxy it started.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        _remove_containers(f"nfdi-test-hub-{self.hub_id}-")


def _remove_containers(prefix: str) -> None:
    """Safety net: remove containers this hub started if it died before cleaning up."""
    if shutil.which("docker") is None:
        return
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{prefix}"],
                         capture_output=True, text=True, timeout=30)
    ids = out.stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=60)


def start_hub(workdir: Path, *, config: str = "", spawner: str = "docker",
              services: list[dict[str, Any]] | None = None, timeout: float = 60,
              env: dict[str, str] | None = None, port: int = 0) -> Hub:
    """Start JupyterHub + configurable-http-proxy in *workdir*; return once the API answers.

    *config* is appended to the generated jupyterhub_config.py (so it can override
    anything). *spawner* ``"docker"`` configures the loopback DockerSpawner; any other
    value leaves the spawner to *config*. The service ``launcher`` with :attr:`Hub.token`
    is always registered; *services* adds more. *port* is the public (proxy) port, e.g.
    one a login provider already knows as the redirect target (default: a free one).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    hub_id = secrets.token_hex(4)
    token = secrets.token_hex(32)
    ports = {"proxy": port or free_port(), "hub": free_port(), "proxy_api": free_port()}
    all_services = [{"name": "launcher", "api_token": token}, *(services or [])]
    config_path = workdir / "jupyterhub_config.py"
    config_path.write_text(render_config(workdir=workdir, hub_id=hub_id, ports=ports, token=token,
                                         services=all_services, extra=config, spawner=spawner))
    log_path = workdir / "jupyterhub.log"
    proc_env = {**os.environ, **(env or {}),
                "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(config_path)],
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=proc_env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{ports['proxy']}/"
    hub = Hub(workdir=workdir, hub_id=hub_id, url=url, api_url=url + "hub/api", token=token,
              process=process, log_path=log_path, ports=ports)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {process.returncode}:\n{hub.log_tail()}")
        return hub.api("GET", "/", timeout=2).status_code == 200

    try:
        wait_for(answers, timeout, "JupyterHub's REST API")
    except Exception:
        hub.stop()
        raise
    return hub


@pytest.fixture
def hub_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Hub]]:
    """Call with keyword arguments of :func:`start_hub`; all hubs are stopped afterwards."""
    hubs: list[Hub] = []

    def make(**kwargs: Any) -> Hub:
        workdir = kwargs.pop("workdir", None) or tmp_path_factory.mktemp("hub")
        hub = start_hub(workdir, **kwargs)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One default hub (loopback DockerSpawner) shared by the tests of a module."""
    h = start_hub(tmp_path_factory.mktemp("hub"))
    yield h
    h.stop()


def progress_events(hub: Hub, user: str, server: str, timeout: float = 120) -> list[dict[str, Any]]:
    """Read the hub's /progress event stream of a server until ready or failed."""
    events: list[dict[str, Any]] = []
    with hub.api("GET", f"/users/{user}/servers/{server}/progress", stream=True,
                 timeout=timeout, headers={"Accept": "text/event-stream"}) as r:
        r.raise_for_status()
        for raw in r.iter_lines(decode_unicode=True):
            if raw and raw.startswith("data:"):
                event = json.loads(raw[5:])
                events.append(event)
                if event.get("ready") or event.get("failed"):
                    break
    return events
