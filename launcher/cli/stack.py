"""``nfdi-launcher stack``: the whole system on one machine, on loopback, one command.

Starts, in this order, each as a child process with its own state under ``--state-dir``:

1. a registry (Debian's ``docker-registry``, when installed) on 127.0.0.1, on the same port
   and storage as at the last start on this state directory (``stack_registry``), holding
   the base images builds start from before the URL is printed (``stack_seed``);
2. one Outpost with the Docker backend, offered to the hub as two systems
   (``local-small``, ``local-large``) with different flavors — each system is its own hub
   identity at the Outpost, so the flavor rules of ``flavors.yaml`` differ per system;
3. JupyterHub + configurable-http-proxy with the OutpostSpawner, named servers and
   JupyterHub's own ``DummyAuthenticator`` with one generated password (local use:
   any user name, the password kept in ``<state-dir>/login-password``, mode 0600);
4. the launcher, as a hub-managed service at ``/services/launcher/``, configured by the
   operator's config file (``nfdi_launcher_config.py`` in the working directory, or
   ``--config FILE``) plus the stack's wiring; the Outpost reads the same file when it
   configures Outpost classes;
5. with ``--anonymous`` (no login; a temporary user per launch, like mybinder.org) or
   ``--cull-timeout N``: ``jupyterhub-idle-culler`` as a hub-managed service;
6. with ``--oidc``: a local OpenID Provider (node ``oidc-provider``, ``stack_oidc``) whose
   demo users log in instead, each seeing only the systems and flavors their entitlements
   allow.
7. with ``--with-slurm``: a third system, ``hpc-slurm`` ("HPC (Slurm)"): the registry's TLS
   endpoint and a second Outpost with the Slurm backend on a running cluster (see
   ``stack_hpc``; scripts/setup.sh starts one).

It waits (bounded) until each answers, prints the URL, and on Ctrl-C, SIGTERM or SIGHUP
stops the hub (which stops its servers through the Outpost), then the Outpost and the
registry, then anything they left, and removes any container left with the stack's name
prefix. User volumes are kept. This works also when its stdout is a pipe that is gone
(``nfdi-launcher stack | tee log``, then Ctrl-C).

It refuses to start (one ``error:`` line, exit status 2, nothing started) when ``--port`` is
taken or another stack runs on the same state directory. ``--status`` tells what runs on a
state directory, where, and the log files (exit status 0 when a stack runs, 3 when none).

SIGUSR1 restarts just the Outpost (same config, state database and port; e.g. after changing
its hub credentials or its config file — ``flavors.yaml`` needs no restart, the Outpost re-reads
it on every request): the hub and running servers stay, the new Outpost knows them from its
database. It prints ``restarted outpost (pid N)`` once the new one answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from jupyterhub.utils import random_port
from traitlets import Bool, Float, Int, List, Unicode

from appbase.app import LauncherApp
from launcher.cli.stack_anonymous import (
    ANONYMOUS_CULL_TIMEOUT,
    Culler,
    anonymous_hub_config,
    culler_hub_config,
)
from launcher.cli.stack_files import (
    StackPorts,
    secret_file,
    write_launcher_config,
    write_outpost_files,
)
from launcher.cli.stack_hpc import HpcError, HpcStack, cancel_jobs, hpc_hub_config, start_hpc
from launcher.cli.stack_hub import login_note, start_hub
from launcher.cli.stack_oidc import ACCESS_HELP
from launcher.cli.stack_procs import (
    Children,
    Interrupted,
    remove_containers,
    say,
    wait_until_answers,
)
from launcher.cli.stack_registry import keep_port, registry_binary, start_registry
from launcher.cli.stack_seed import DEFAULT_SEED
from launcher.cli.stack_state import (
    Component,
    StackError,
    StackStatus,
    StateLock,
    describe,
    free_ports,
    port_in_use,
    remove_status,
    write_status,
)

VENV_BIN = Path(sys.executable).parent


class StackApp(LauncherApp):
    """Start registry, Outpost, JupyterHub and the launcher on loopback; stop all on Ctrl-C,
    SIGTERM or SIGHUP; SIGUSR1 (``kill -USR1 <pid>``) restarts just the Outpost."""

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
    anonymous = Bool(False, help="""Anonymous mode, like mybinder.org: no login; every launch
        runs as a new temporary hub user, whose servers (and then the user) the idle culler
        removes. What such a user writes under ~/work is not kept for later launches."""
                     ).tag(config=True)
    cull_timeout = Int(-1, help=f"""Stop and remove servers idle for this many seconds
        (jupyterhub-idle-culler as a hub service). -1: {ANONYMOUS_CULL_TIMEOUT} in
        anonymous mode, off when users log in; 0: off.""").tag(config=True)
    oidc = Bool(False, help="""Log in through a local OpenID Provider (node oidc-provider on
        127.0.0.1) as one of its demo users, whose entitlements differ (passwords in
        <state-dir>/oidc-password-<user>), instead of the one-password local login.""").tag(
        config=True)
    status = Bool(False, help="Print what runs on --state-dir (URL, components, logs) and "
                  "exit: 0 when a stack runs, 3 when none does.").tag(config=True)
    with_slurm = Bool(False, help="""Add the system hpc-slurm: servers as Slurm jobs with
        Charliecloud, on the cluster and site directories of ``HpcStack`` (made by
        scripts/setup.sh).""").tag(config=True)

    classes = [HpcStack]

    aliases = {**LauncherApp.aliases, "state-dir": "StackApp.state_dir", "port": "StackApp.port",
               "wait-timeout": "StackApp.wait_timeout", "cull-timeout": "StackApp.cull_timeout",
               "slurm-conf": "HpcStack.slurm_conf", "hpc-root": "HpcStack.root"}
    flags = {**LauncherApp.flags,
             "no-registry": ({"StackApp": {"registry": False}}, "Do not start a registry."),
             "no-launcher": ({"StackApp": {"launcher": False}}, "Do not start the launcher."),
             "anonymous": ({"StackApp": {"anonymous": True}},
                           "No login: temporary users, idle servers culled (like mybinder.org)."),
             "oidc": ({"StackApp": {"oidc": True}},
                      "Log in through a local OpenID Provider with demo users whose rights "
                      "differ."),
             "status": ({"StackApp": {"status": True}},
                        "Say what runs on --state-dir, where, and the log files."),
             "with-slurm": ({"StackApp": {"with_slurm": True}},
                            "Add the system hpc-slurm (Slurm + Charliecloud).")}

    stop_requested = False
    restart_requested = False

    def start(self) -> None:
        state = Path(self.state_dir).resolve()
        if self.status:
            lines, running = describe(state)
            for line in lines:
                say(line)
            self.exit(0 if running else 3)
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._install_signal_handlers()
        lock = StateLock(state)
        try:
            lock.acquire()
            if self.port and port_in_use(self.port):
                raise StackError(f"port {self.port} on 127.0.0.1 is in use; stop what uses it "
                                 "or choose another with --port (0: a free one)")
        except StackError as err:
            lock.release()
            say(f"error: {err}", sys.stderr)
            self.exit(2)
        code = self._run(state)
        lock.release()
        if code:
            self.exit(code)

    def _install_signal_handlers(self) -> None:
        def on_stop(signum: int, frame: Any) -> None:
            # acted on in the loops: raising here could lose a child being started
            self.stop_requested = True

        def on_usr1(signum: int, frame: Any) -> None:
            self.restart_requested = True

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_stop)
        signal.signal(signal.SIGUSR1, on_usr1)

    def _run(self, state: Path) -> int:
        """Bring the stack up, serve until told to stop, stop; the exit status."""
        env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        children = Children(state, env, lambda: self.stop_requested)
        code = 0
        try:
            status = self._bring_up(state, children)
            write_status(state, status)
            say(f"\nnfdi-launcher stack is up: {status.url}")
            for note in status.notes:
                say(f"  {note}")
            say("Press Ctrl-C to stop.")
            self._serve(state, children, status)
        except Interrupted:
            pass
        except (StackError, HpcError) as err:
            say(f"error: {err}", sys.stderr)
            code = 2
        except Exception as err:
            say(f"error: {err}", sys.stderr)
            code = 1
        finally:
            self._shutdown(state, children)
        return code

    def _check_stop(self) -> None:
        if self.stop_requested:
            raise Interrupted

    def _serve(self, state: Path, children: Children, status: StackStatus) -> None:
        while True:
            self._check_stop()
            if self.restart_requested:
                self.restart_requested = False
                proc = children.restart("outpost")
                self._wait(children, self.outpost_ping, "the restarted Outpost")
                say(f"restarted outpost (pid {proc.pid})")
                for comp in status.components:
                    if comp.name == "outpost":
                        comp.pid = proc.pid
                write_status(state, status)
            exited = children.exited()
            if exited:
                raise RuntimeError(f"{exited[0]} exited ({exited[1]}); see "
                                   f"{children.log_path(exited[0])}")
            time.sleep(0.5)

    # -- steps ---------------------------------------------------------------------
    outpost_ping = ""

    def _bring_up(self, state: Path, children: Children) -> StackStatus:
        binary = registry_binary(self.registry)
        ports = self._ports(state, registry=bool(binary))
        operator = self._operator_config()
        comps: list[Component] = []
        notes: list[str] = []
        registry_url = start_registry(
            state, binary, ports.registry, children, self._wait, comps, notes,
            seed_images=list(self.seed_images),
            seed=Path(self.registry_seed) if self.registry_seed else None)
        systems_file = write_outpost_files(state, ports, registry_url,
                                           operator if self._configures_outpost() else None)
        proc = children.spawn("outpost", [str(VENV_BIN / "nfdi-launcher"), "outpost",
                                          "--config", str(state / "outpost_config.py")])
        self.outpost_ping = f"http://127.0.0.1:{ports.outpost}/ping"
        self._wait(children, self.outpost_ping, "the Outpost")
        comps.append(Component("outpost", proc.pid, f"http://127.0.0.1:{ports.outpost}",
                               str(children.log_path("outpost"))))
        if self.with_slurm:
            self._start_hpc(state, children, registry_url, systems_file, comps, notes)
        url, first_time, culler = self._start_hub(state, ports, systems_file, registry_url,
                                                  operator, children, comps, notes)
        notes.insert(0, login_note(state, first_time, anonymous=self.anonymous,
                                   oidc_note=self.oidc_note))
        if culler:
            notes.append(f"idle culler: servers idle for {culler.timeout} s are stopped and "
                         "removed" + (", then their temporary users" if self.anonymous else ""))
        notes.append(f"systems: local-small, local-large (one Outpost at 127.0.0.1:"
                     f"{ports.outpost}); state and logs in {state}")
        mode = "anonymous (temporary users)" if self.anonymous else (
            "logged in (OpenID Connect)" if self.oidc else "logged in (hub login)")
        return StackStatus(pid=os.getpid(), url=url, mode=mode, started=time.time(),
                           components=comps, notes=notes)

    def _ports(self, state: Path, *, registry: bool) -> StackPorts:
        """The public port as asked (0: a free one), the registry's kept across restarts
        (stack_registry), free ones for the rest."""
        public = self.port or free_ports(1)[0]
        kept = keep_port(state, avoid={public}) if registry else 0
        hub, proxy_api, outpost, launcher = free_ports(4, taken={public, kept})
        return StackPorts(public=public, hub=hub, proxy_api=proxy_api, outpost=outpost,
                          launcher=launcher, registry=kept)

    def _start_hub(self, state: Path, ports: StackPorts, systems_file: Path, registry_url: str,
                   operator: Path | None, children: Children, comps: list[Component],
                   notes: list[str]) -> tuple[str, bool, Culler | None]:
        """JupyterHub with the launcher (and culler, OIDC login) as configured; the URL to
        open, whether the login password is new, and the culler."""
        public = f"http://127.0.0.1:{ports.public}/"
        launcher_cmd: list[str] | None = None
        if self.launcher:
            write_launcher_config(state, systems_file, registry_url, public,
                                  anonymous=self.anonymous, operator_config=operator,
                                  access_help=ACCESS_HELP if self.oidc else "")
            launcher_cmd = [str(VENV_BIN / "nfdi-launcher"), "serve", "--config",
                            str(state / "launcher_config.py")]
        culler = self._culler()
        extra = (anonymous_hub_config() if self.anonymous else "") + (
            culler_hub_config(culler) if culler else "") + (
            hpc_hub_config() if self.with_slurm else "")
        if self.oidc:
            extra += self._start_oidc(state, public, systems_file, children, comps, notes)
        url, first_time = start_hub(state, ports, systems_file, launcher_cmd, extra, children,
                                    self._wait, comps)
        if culler:
            comps.append(Component("idle-culler", None, "", str(children.log_path("jupyterhub"))))
        return url, first_time, culler

    def _start_oidc(self, state: Path, public: str, systems_file: Path, children: Children,
                    comps: list[Component], notes: list[str]) -> str:
        """The local OpenID Provider; returns the hub's login configuration."""
        from launcher.cli import stack_oidc

        setup = stack_oidc.write_provider_config(state, random_port(), public,
                                                 stack_oidc.DEMO_USERS, secret_file)
        notes.extend(stack_oidc.ensure_user_rules(state / "flavors.yaml"))
        proc = children.spawn("oidc-provider", stack_oidc.provider_command(setup.config))
        self._wait(children, setup.issuer + "/.well-known/openid-configuration",
                   "the OpenID Provider")
        comps.append(Component("oidc-provider", proc.pid, setup.issuer,
                               str(children.log_path("oidc-provider"))))
        self.oidc_note = stack_oidc.login_note(setup)
        return stack_oidc.hub_login_config(setup, hub_url=public, systems_file=systems_file,
                                           crypt_key_file=stack_oidc.crypt_key_file(state))

    oidc_note = ""

    def _start_hpc(self, state: Path, children: Children, registry_url: str,
                   systems_file: Path, comps: list[Component], notes: list[str]) -> None:
        """``--with-slurm``: the system ``hpc-slurm`` (launcher/cli/stack_hpc.py)."""
        added, note = start_hpc(HpcStack(parent=self), state, children, registry_url,
                                systems_file, self._wait)
        comps.extend(added)
        notes.append(note)
        if self.oidc:  # only holders of a project on the cluster get its flavors
            from launcher.cli import stack_oidc

            notes.extend(stack_oidc.ensure_user_rules(state / "flavors-hpc.yaml",
                                                      stack_oidc.HPC_USER_RULES))

    def _culler(self) -> Culler | None:
        timeout = self.cull_timeout
        if timeout < 0:
            timeout = ANONYMOUS_CULL_TIMEOUT if self.anonymous else 0
        return Culler.for_timeout(timeout, cull_users=self.anonymous) if timeout else None

    def _operator_config(self) -> Path | None:
        """The operator's config file this command read, if there is one."""
        path = Path(self.config_file)
        return path.resolve() if path.is_file() else None

    def _configures_outpost(self) -> bool:
        """True if the operator's file sets anything of the Outpost's classes."""
        from outpost.cli import OutpostApp

        names = {cls.__name__ for app_cls in OutpostApp().classes
                 for cls in app_cls.__mro__ if cls.__module__.startswith("outpost")}
        names |= {old.split(".")[0] for old in OutpostApp.renamed_config}  # OutpostConfig
        names |= {path.rsplit(".", 1)[1] for path in OutpostApp.plugin_classes}  # backends
        return bool(names & set(self.config))

    def _wait(self, children: Children, url: str, what: str, ok: tuple[int, ...] = (200,),
              check: Any = None, headers: dict[str, str] | None = None,
              verify: str | bool = True) -> None:
        wait_until_answers(children, url, what, timeout=self.wait_timeout, ok=ok, check=check,
                           headers=headers, verify=verify)

    def _shutdown(self, state: Path, children: Children) -> None:
        # A second Ctrl-C must not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if children.procs:
            say("\nstopping ...")
        # Reverse order: the hub stops its servers through the still-running Outpost.
        children.stop_all()
        remove_status(state)
        prefix = (state / "name-prefix").read_text().strip() if (state / "name-prefix").exists() \
            else ""
        if self.with_slurm and prefix:
            with contextlib.suppress(Exception):  # a cluster that went away has no jobs left
                cancel_jobs(HpcStack(parent=self), prefix)
        remove_containers(prefix)
