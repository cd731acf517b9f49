"""``nfdi-launcher stack``: the whole system on one machine, on loopback, one command.

Starts, in this order, each as a child process with its own state under ``--state-dir``:

1. a registry (Debian's ``docker-registry``, when installed) on 127.0.0.1:<free port>,
   holding the base images builds start from before the URL is printed (``stack_seed``);
2. one Outpost with the Docker backend, offered to the hub as two systems
   (``local-small``, ``local-large``) with different flavors — each system is its own hub
   identity at the Outpost, so the flavor rules of ``flavors.yaml`` differ per system;
3. JupyterHub + configurable-http-proxy with the OutpostSpawner, named servers and
   JupyterHub's own ``DummyAuthenticator`` with one generated password (local use:
   any user name, the password kept in ``<state-dir>/login-password``, mode 0600);
4. the launcher, as a hub-managed service at ``/services/launcher/``.

It waits (bounded) until each answers, prints the URL and on Ctrl-C/SIGTERM stops the hub
(which stops its servers through the Outpost), then the Outpost and the registry, and
removes any container left with the stack's name prefix. User volumes are kept.

SIGUSR1 restarts just the Outpost (same config, state database and port; e.g. after changing
its hub credentials or its config file — ``flavors.yaml`` needs no restart, the Outpost re-reads
it on every request): the hub and running servers stay, the new Outpost knows them from its
database. It prints ``restarted outpost (pid N)`` once the new one answers.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jupyterhub.utils import random_port
from traitlets import Bool, Float, Int, List, Unicode

from appbase.app import LauncherApp
from launcher.cli.stack_files import (
    StackPorts,
    secret_file,
    write_hub_files,
    write_launcher_config,
    write_outpost_files,
    write_registry_config,
)
from launcher.cli.stack_seed import DEFAULT_SEED, SeedError, seed_registry

VENV_BIN = Path(sys.executable).parent


class StackApp(LauncherApp):
    """Start registry, Outpost, JupyterHub and the launcher on loopback; stop all on Ctrl-C;
    SIGUSR1 (``kill -USR1 <pid>``) restarts just the Outpost; SIGHUP (terminal closed) stops all."""

    name = "nfdi-launcher-stack"
    description = __doc__ or ""

    state_dir = Unicode(".stack", help="Directory for all state (databases, configs, logs, "
                        "secrets; created with mode 0700).").tag(config=True)
    port = Int(8000, help="Public port of the hub on 127.0.0.1 (0: a free one).").tag(
        config=True)
    registry = Bool(True, help="Start Debian's docker-registry if installed.").tag(config=True)
    launcher = Bool(True, help="Start the launcher as a hub service.").tag(config=True)
    wait_timeout = Float(90.0, help="Seconds to wait for each component to answer.").tag(
        config=True)
    seed_images = List(
        Unicode(), ["local/jupyter-base:6.1.1"],
        help="""Local images that builds start FROM. Before the URL is printed the registry
        gets them (from ``registry_seed`` when it has them: about a second; else pushed
        now, once per state directory), so that no first launch pushes a base image.""",
    ).tag(config=True)
    registry_seed = Unicode(
        str(DEFAULT_SEED),
        help="""Registry storage holding the ``seed_images``, made once by scripts/setup.sh
        (``python -m launcher.cli.stack_seed``); its blobs are hard-linked into the stack's
        registry. Empty: push the images from the engine instead.""",
    ).tag(config=True)

    aliases = {**LauncherApp.aliases, "state-dir": "StackApp.state_dir", "port": "StackApp.port",
               "wait-timeout": "StackApp.wait_timeout"}
    flags = {**LauncherApp.flags,
             "no-registry": ({"StackApp": {"registry": False}}, "Do not start a registry."),
             "no-launcher": ({"StackApp": {"launcher": False}}, "Do not start the launcher.")}

    procs: list[tuple[str, subprocess.Popen[bytes]]]
    commands: dict[str, list[str]]
    outpost_ping = ""
    restart_requested = False

    def start(self) -> None:
        self.procs, self.commands = [], {}
        state = Path(self.state_dir).resolve()
        state.mkdir(mode=0o700, parents=True, exist_ok=True)

        def on_signal(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        def on_usr1(signum: int, frame: Any) -> None:
            self.restart_requested = True  # acted on in the main loop, not in the handler

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)  # terminal closed: stop cleanly
        signal.signal(signal.SIGUSR1, on_usr1)
        try:
            url, notes = self._bring_up(state)
            print(f"\nnfdi-launcher stack is up: {url}", flush=True)
            for note in notes:
                print(f"  {note}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            while True:
                if self.restart_requested:
                    self.restart_requested = False
                    self._restart_outpost(state)
                for name, proc in self.procs:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited ({proc.returncode}); see "
                                           f"{state}/{name}.log")
                time.sleep(1)
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)
        except Exception as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            self._shutdown(state)
            self.exit(1)
        self._shutdown(state)

    # -- steps ---------------------------------------------------------------------
    def _bring_up(self, state: Path) -> tuple[str, list[str]]:
        ports = StackPorts(public=self.port or random_port(), hub=random_port(),
                           proxy_api=random_port(), outpost=random_port(), launcher=random_port(),
                           registry=random_port())
        notes: list[str] = []
        registry_url = self._start_registry(state, ports, notes)
        systems_file = write_outpost_files(state, ports, registry_url)
        self._spawn("outpost", [str(VENV_BIN / "nfdi-launcher"), "outpost", "--config",
                                str(state / "outpost_config.py")], state)
        self.outpost_ping = f"http://127.0.0.1:{ports.outpost}/ping"
        self._wait(self.outpost_ping, "the Outpost")
        launcher_cmd: list[str] | None = None
        if self.launcher:
            write_launcher_config(state, systems_file, registry_url,
                                  f"http://127.0.0.1:{ports.public}/")
            launcher_cmd = [str(VENV_BIN / "nfdi-launcher"), "serve", "--config",
                            str(state / "launcher_config.py")]
        password, first_time = secret_file(state / "login-password", 12)
        write_hub_files(state, ports, systems_file, launcher_cmd, password)
        env = {"CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16)}
        self._spawn("jupyterhub", [str(VENV_BIN / "jupyterhub"), "-f",
                                   str(state / "jupyterhub_config.py")], state, env)
        public = f"http://127.0.0.1:{ports.public}/"
        self._wait(public + "hub/api/", "JupyterHub")
        if launcher_cmd:
            self._wait(public + "services/launcher/health", "the launcher", ok=(200, 302))
            url = public + "services/launcher/"
        else:
            url = public + "hub/"
        # The password goes to a 0600 file, never to the terminal (terminals get logged).
        created = " (new)" if first_time else ""
        notes.insert(0, f"login: any user name, the password in {state / 'login-password'}{created}")
        notes.append(f"systems: local-small, local-large (one Outpost at 127.0.0.1:"
                     f"{ports.outpost}); state and logs in {state}")
        return url, notes

    def _start_registry(self, state: Path, ports: StackPorts, notes: list[str]) -> str:
        binary = shutil.which("docker-registry")
        if not (self.registry and binary):
            notes.append("registry: none (images stay in the local Docker engine)")
            return ""
        config = write_registry_config(state, ports.registry)
        self._spawn("registry", [binary, "serve", str(config)], state)
        url = f"http://127.0.0.1:{ports.registry}"
        self._wait(url + "/v2/", "the registry")
        notes.append(f"registry: {url}")
        self._seed_registry(state / "registry", url, notes)
        return url

    def _seed_registry(self, storage: Path, url: str, notes: list[str]) -> None:
        """Base images into the registry now, not in the first launch (see stack_seed)."""
        if not self.seed_images:
            return
        print("registry: making sure it holds the base images builds start from ...",
              flush=True)
        try:
            lines = seed_registry(storage, url.removeprefix("http://"), list(self.seed_images),
                                  Path(self.registry_seed) if self.registry_seed else None)
        except (SeedError, OSError, subprocess.TimeoutExpired) as e:
            notes.append(f"registry: base images NOT seeded ({e}); the first build pushes them")
            return
        notes.extend(f"registry holds {line}" for line in lines)

    def _restart_outpost(self, state: Path) -> None:
        index = next(i for i, (name, _) in enumerate(self.procs) if name == "outpost")
        _terminate(self.procs.pop(index)[1])
        self._spawn("outpost", self.commands["outpost"], state, index=index)
        self._wait(self.outpost_ping, "the restarted Outpost")
        print(f"restarted outpost (pid {self.procs[index][1].pid})", flush=True)

    def _spawn(self, name: str, cmd: list[str], state: Path,
               env: dict[str, str] | None = None, index: int | None = None) -> None:
        full_env = {**os.environ, **(env or {}),
                    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        # the child keeps its own copy of the log descriptor; the parent closes its one
        with (state / f"{name}.log").open("ab") as log:
            # fixed binaries of this installation, arguments we generated
            proc = subprocess.Popen(  # noqa: S603
                cmd, cwd=state, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                start_new_session=True)
        self.procs.insert(len(self.procs) if index is None else index, (name, proc))
        self.commands[name] = cmd
        print(f"started {name} (pid {proc.pid}, log {state / (name + '.log')})", flush=True)

    def _wait(self, url: str, what: str, ok: tuple[int, ...] = (200,)) -> None:
        import requests

        deadline = time.monotonic() + self.wait_timeout
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting "
                                       f"for {what}")
            try:
                r = requests.get(url, timeout=3, allow_redirects=False)
                if r.status_code in ok:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = type(e).__name__
            time.sleep(0.5)
        raise RuntimeError(f"{what} did not answer within {self.wait_timeout:.0f} s ({last})")

    def _shutdown(self, state: Path) -> None:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Reverse order: the hub stops its servers through the still-running Outpost.
        for name, proc in reversed(self.procs):
            _terminate(proc)
            with_group_gone(proc.pid)
            print(f"stopped {name}", flush=True)
        prefix = (state / "name-prefix").read_text().strip() if (state / "name-prefix").exists() \
            else ""
        if prefix and shutil.which("docker"):
            out = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{prefix}"],  # noqa: S603
                                 capture_output=True, text=True, timeout=30)
            if out.stdout.split():
                subprocess.run(["docker", "rm", "-f", *out.stdout.split()],  # noqa: S603
                               capture_output=True, timeout=60)
        self.procs = []


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def with_group_gone(pgid: int) -> None:
    """Kill what is left of a child's process group (e.g. the proxy of a crashed hub)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return

