"""``nfdi-launcher stack`` started the way the README says, as a subprocess, for end-to-end tests.

The product under test is the command a person runs (``nfdi-launcher stack``), not a launcher
built inside the test: the harness writes an operator config file (``nfdi_launcher_config.py``)
into a working directory, starts ``<venv>/bin/nfdi-launcher stack --port 0 --state-dir ...``
there, waits for its "stack is up: <url>" line, and stops it with SIGINT (Ctrl-C).

- :func:`start_stack` starts one stack (optionally through ``2>&1 | tee``, as a person would
  keep a log); :class:`RunningStack` knows its URL, state directory, login password, the
  launcher's hub token, its child processes (``descendants()``) and its logs.
- fixture ``stack_pool`` (session): :class:`StackPool` keeps at most ONE stack running for the
  whole session, on one state directory (so the registry's base layers are pushed once);
  ``stack_pool.get("--anonymous", config="...")`` returns the running stack when the
  arguments and config are the same, else stops it and starts the new one on the same state.
  Group tests that use the same arguments in one module so the suite restarts rarely.
  ``stack_pool.restart()`` stops the running stack with Ctrl-C and starts it again as it was.
- fixture ``any_stack``: whichever stack runs (no restart), for tests of the command itself.
- fixture ``stack`` (function): ``stack_pool.get()`` — the default logged-in stack, with the
  git server's scenarios reachable under ``https://git.example.org/journey/<scenario>``
  through ``c.NetConfig.url_rewrites`` in the operator config file (which also proves that
  the operator's file reaches the launcher service the stack starts).
- :func:`hub_login` fills JupyterHub's login form in a Playwright page.

Other engineers' stack-level tests (``--oidc``, receipts) reuse this: pass their flags to
``stack_pool.get(...)`` and extra operator settings with ``config=``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.harness.hub import wait_for

VENV_BIN = Path(sys.executable).parent
NFDI_LAUNCHER = str(VENV_BIN / "nfdi-launcher")
#: public-looking prefix under which the git server's scenarios are reached in stack tests
PUBLIC_GIT = "https://git.example.org/journey/"
#: a cold stack pushes the 790 MB base layers into its fresh registry on the first build
START_TIMEOUT_S = 180
UP_LINE = re.compile(r"stack is up: (http://127\.0\.0\.1:\d+/\S*)")


def descendants(pid: int) -> set[int]:
    """PIDs of every live descendant of *pid* (read from /proc; children first found)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may contain spaces and parentheses
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True if *pid* exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class RunningStack:
    """One ``nfdi-launcher stack`` process and what it printed."""

    state: Path
    workdir: Path
    proc: subprocess.Popen[bytes]
    output: Path
    url: str = ""  # the URL the stack printed (the launcher's home page)
    args: tuple[str, ...] = ()
    config: str = ""
    #: every PID seen below the stack process while it ran (for "nothing survives" checks)
    seen_pids: set[int] = field(default_factory=set)

    @property
    def public(self) -> str:
        """``http://127.0.0.1:<port>/``: the proxy's root."""
        m = re.match(r"http://127\.0\.0\.1:\d+/", self.url)
        assert m, self.url
        return m.group(0)

    @property
    def launcher(self) -> str:
        return self.public + "services/launcher/"

    @property
    def password(self) -> str:
        return (self.state / "login-password").read_text().strip()

    @property
    def token(self) -> str:
        """The launcher service's hub token (admin scopes on users and servers)."""
        return (self.state / "launcher-token").read_text().strip()

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def log(self, name: str) -> str:
        path = self.state / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def hub_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.public + "hub/api" + path, headers=headers,
                                timeout=kwargs.pop("timeout", 30), **kwargs)

    def user_token(self, user: str) -> str:
        """A hub API token of *user* (created with the user if needed)."""
        self.hub_api("POST", f"/users/{user}")
        r = self.hub_api("POST", f"/users/{user}/tokens", json={"note": "test"})
        r.raise_for_status()
        return str(r.json()["token"])

    def servers(self, user: str) -> dict[str, Any]:
        r = self.hub_api("GET", f"/users/{user}")
        if r.status_code == 404:
            return {}
        r.raise_for_status()
        return dict(r.json().get("servers") or {})

    def remove_servers(self, user: str) -> None:
        """Stop and forget every server of *user* (test isolation)."""
        for name in self.servers(user):
            self.hub_api("DELETE", f"/users/{user}/servers/{name}", json={"remove": True})
        wait_for(lambda: not self.servers(user), 120, f"{user}'s servers to stop")

    def running(self) -> bool:
        return self.proc.poll() is None

    def note_pids(self) -> set[int]:
        """Record the stack's current descendants (call while it runs)."""
        now = descendants(self.proc.pid)
        self.seen_pids |= now
        return now

    def stop(self, sig: int = signal.SIGINT, timeout: float = 180) -> int:
        """Send *sig* (Ctrl-C by default) and wait for the stack to exit; its exit code."""
        if self.proc.poll() is None:
            self.note_pids()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return int(self.proc.returncode)

    def kill(self) -> None:
        """Last resort of a failed test: kill the stack and everything it started."""
        pids = self.note_pids() | self.seen_pids
        for pid in [self.proc.pid, *pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)


def operator_config(git_server: Any, scenarios: tuple[str, ...], extra: str = "") -> str:
    """An operator's ``nfdi_launcher_config.py``: the scenarios behind :data:`PUBLIC_GIT`."""
    rewrites = {PUBLIC_GIT + name: git_server.url_for(name) for name in scenarios}
    return ("# written by tests/harness/stack.py, as an operator would\n"
            f"c.NetConfig.url_rewrites = {rewrites!r}\n" + extra)


def stack_env() -> dict[str, str]:
    """The test process's environment without rewrites (the config file carries them)."""
    env = {k: v for k, v in os.environ.items() if k != "NFDI_LAUNCHER_URL_REWRITES"}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def start_stack(state: Path, workdir: Path, *args: str, config: str = "", pipe: bool = False,
                wait: bool = True, timeout: float = START_TIMEOUT_S) -> RunningStack:
    """``nfdi-launcher stack --port 0 --state-dir STATE *args`` in *workdir* (its cwd).

    *config* is written to ``WORKDIR/nfdi_launcher_config.py`` first (the stack reads it
    from its working directory). With *pipe*, the command runs as ``... 2>&1 | tee
    stack.out`` under ``sh`` in its own process group, as in a terminal; ``proc`` is then
    the shell. *wait* returns only once the stack printed its URL.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if config:
        (workdir / "nfdi_launcher_config.py").write_text(config)
    n = len(list(workdir.glob("stack-*.out")))
    output = workdir / f"stack-{n}.out"
    cmd = [NFDI_LAUNCHER, "stack", "--port", "0", "--state-dir", str(state), *args]
    if pipe:
        line = shlex.join(cmd) + f" 2>&1 | tee {shlex.quote(str(output))}"
        proc = subprocess.Popen(["/bin/sh", "-c", line], cwd=workdir, env=stack_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    else:
        with output.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=workdir, env=stack_env(), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    stack = RunningStack(state=state, workdir=workdir, proc=proc, output=output, args=args,
                         config=config)
    if wait:
        try:
            stack.url = wait_for(lambda: _up(stack), timeout, "the stack to print its URL",
                                 interval=0.3)
        except BaseException:
            stack.kill()
            raise
        stack.note_pids()
    return stack


def _up(stack: RunningStack) -> str | None:
    if not stack.output.exists():  # tee creates it a moment after the shell starts
        return None
    m = UP_LINE.search(stack.text())
    if m:
        return m.group(1)
    if stack.proc.poll() is not None:
        raise RuntimeError(f"the stack exited ({stack.proc.returncode}) before it was up:\n"
                           f"{stack.text()[-3000:]}")
    stack.note_pids()
    return None


class StackPool:
    """At most one running stack per session, restarted only when its arguments change."""

    def __init__(self, root: Path, base_config: str) -> None:
        self.root = root
        self.state = root / "state"
        self.base_config = base_config
        self.current: RunningStack | None = None
        self.starts = 0

    def get(self, *args: str, config: str = "") -> RunningStack:
        full = self.base_config + config
        cur = self.current
        if cur and cur.running() and cur.args == args and cur.config == full:
            return cur
        self.close()
        self.starts += 1
        self.current = start_stack(self.state, self.root / "work", *args, config=full)
        return self.current

    def restart(self) -> RunningStack:
        """Ctrl-C the running stack, then start it again with the same arguments and config
        on the same state directory (what an operator does after a reboot or an upgrade)."""
        cur = self.current
        assert cur is not None, "no stack to restart"
        self.close()
        self.starts += 1
        self.current = start_stack(self.state, self.root / "work", *cur.args, config=cur.config)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            try:
                self.current.stop()
            finally:
                self.current = None


#: scenarios the stack tests launch (each a Dockerfile repository on the local base image)
STACK_SCENARIOS = ("rees-dockerfile", "journey-second", "receipts-branch")


@pytest.fixture(scope="session")
def stack_pool(tmp_path_factory: pytest.TempPathFactory, git_server: Any) -> Iterator[StackPool]:
    pool = StackPool(tmp_path_factory.mktemp("stack"), operator_config(git_server, STACK_SCENARIOS))
    try:
        yield pool
    finally:
        pool.close()
        remove_stack_leftovers(pool.state)


@pytest.fixture
def stack(stack_pool: StackPool) -> RunningStack:
    """The default (logged-in) stack of the session."""
    return stack_pool.get()


@pytest.fixture
def any_stack(stack_pool: StackPool) -> RunningStack:
    """Whichever stack runs now (the default one if none): for tests of the stack command
    itself, which do not care about its flags and should not cost a restart."""
    cur = stack_pool.current
    return cur if cur is not None and cur.running() else stack_pool.get()


def remove_stack_leftovers(state: Path) -> None:
    """Remove the containers and volumes of a stack's name prefix (test clean-up)."""
    prefix_file = state / "name-prefix"
    if not prefix_file.exists():
        return
    prefix = prefix_file.read_text().strip()
    for ls, rm in ((["docker", "ps", "-aq"], ["docker", "rm", "-f"]),
                   (["docker", "volume", "ls", "-q"], ["docker", "volume", "rm"])):
        out = subprocess.run([*ls, "--filter", f"name=^{prefix}"], capture_output=True,
                             text=True, timeout=30).stdout.split()
        if out:
            subprocess.run([*rm, *out], capture_output=True, timeout=120)


def hub_login(page: Any, stack: RunningStack, user: str) -> None:
    """Fill JupyterHub's login form (the stack's local login: any name, its password)."""
    page.wait_for_selector("#username_input")
    page.fill("#username_input", user)
    page.fill("#password_input", stack.password)
    page.click("#login_submit")
