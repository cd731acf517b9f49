"""The child processes of ``nfdi-launcher stack``: start, watch, stop — and leave none behind.

Each component runs in its own session (a terminal's Ctrl-C reaches only the stack, which
then stops them in order). JupyterHub starts more processes in sessions of their own (the
proxy, the launcher service, the idle culler), so stopping a process group is not enough:
:meth:`Children.stop_all` notes every descendant first (from ``/proc``), stops the
components in reverse order, and then ends whatever of the noted processes is still there.

Output goes through :func:`say`: when the stack's stdout or stderr is a closed pipe (``stack
| tee log`` after Ctrl-C killed ``tee``), writing must not abort the clean-up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

#: seconds a component gets to stop after SIGTERM (the hub stops its servers meanwhile)
STOP_TIMEOUT = 60.0


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP arrived: stop."""


def say(text: str, stream: TextIO | None = None) -> None:
    """Print a line; a closed pipe or terminal silences later output instead of raising."""
    out = stream or sys.stdout
    try:
        print(text, file=out, flush=True)
    except (OSError, ValueError):
        _silence(out)


def _silence(stream: TextIO) -> None:
    """Point *stream*'s descriptor at /dev/null, so neither later prints nor the interpreter's
    flush at exit fail on it."""
    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError):
        pass


def process_tree() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process, read from /proc."""
    tree: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after "pid (comm)": state ppid pgrp session ... starttime is field 22 of stat
        tree[int(entry.name)] = (int(fields[1]), fields[19])
    return tree


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of *pid* -> its start time (to recognise it later)."""
    tree = process_tree()
    children: dict[int, list[int]] = {}
    for child, (parent, _start) in tree.items():
        children.setdefault(parent, []).append(child)
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = tree[child][1]
                todo.append(child)
    return found


def same_process(pid: int, start: str) -> bool:
    """True while *pid* is still the process that started at *start* (not a reused PID)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[19] == start and fields[0] != "Z"


class Children:
    """The stack's components, in start order."""

    def __init__(self, state: Path, env: dict[str, str],
                 stop_requested: Callable[[], bool] = lambda: False) -> None:
        self.state = state
        self.env = env
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.commands: dict[str, list[str]] = {}
        self.stop_requested = stop_requested

    def log_path(self, name: str) -> Path:
        return self.state / f"{name}.log"

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None,
              index: int | None = None) -> subprocess.Popen[bytes]:
        # the child keeps its own copy of the log descriptor; the parent closes its one
        with self.log_path(name).open("ab") as log:
            # fixed binaries of this installation, arguments we generated
            proc = subprocess.Popen(  # noqa: S603
                cmd, cwd=self.state, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**self.env, **(env or {})},
                start_new_session=True)
        self.procs.insert(len(self.procs) if index is None else index, (name, proc))
        self.commands[name] = cmd
        say(f"started {name} (pid {proc.pid}, log {self.log_path(name)})")
        return proc

    def get(self, name: str) -> subprocess.Popen[bytes]:
        return next(proc for n, proc in self.procs if n == name)

    def exited(self) -> tuple[str, int] | None:
        """(name, exit code) of the first component that is no longer running."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        index = next(i for i, (n, _) in enumerate(self.procs) if n == name)
        terminate(self.procs.pop(index)[1])
        return self.spawn(name, self.commands[name], index=index)

    def stop_all(self) -> None:
        """Stop every component (reverse order), then anything they left running."""
        noted = descendants(os.getpid())
        for name, proc in reversed(self.procs):
            terminate(proc)
            say(f"stopped {name}")
        self.procs = []
        end_leftovers(noted)


def wait_until_answers(children: Children, url: str, what: str, *, timeout: float,
                       ok: tuple[int, ...] = (200,), check: Callable[[int], bool] | None = None,
                       headers: dict[str, str] | None = None, verify: str | bool = True,
                       ) -> None:
    """Poll *url* until its status is in *ok* (or *check* accepts it), for at most *timeout*
    seconds; a stop request (:class:`Interrupted`) or a component that exited ends it early."""
    import requests

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if children.stop_requested():
            raise Interrupted
        exited = children.exited()
        if exited:
            raise RuntimeError(f"{exited[0]} exited ({exited[1]}) while waiting for {what}; "
                               f"see {children.log_path(exited[0])}")
        try:
            r = requests.get(url, timeout=3, allow_redirects=False, headers=headers,
                             verify=verify)
            if (check(r.status_code) if check else r.status_code in ok):
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as e:
            last = type(e).__name__
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s ({last})")


def remove_containers(prefix: str) -> None:
    """Remove every container whose name starts with the stack's *prefix* (user volumes stay)."""
    if not (prefix and shutil.which("docker")):
        return
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{prefix}"],  # noqa: S603
                         capture_output=True, text=True, timeout=30)
    if out.stdout.split():
        subprocess.run(["docker", "rm", "-f", *out.stdout.split()],  # noqa: S603
                       capture_output=True, timeout=60)


def terminate(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait, then SIGKILL the process group; reaps the process."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # what is left of its process group (e.g. the proxy of a crashed hub)
    _signal_group(proc.pid, signal.SIGTERM)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def end_leftovers(noted: dict[int, str], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, the noted processes that still run (and are still the same)."""
    left = {pid: start for pid, start in noted.items() if same_process(pid, start)}
    for pid in left:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = {pid: start for pid, start in left.items() if same_process(pid, start)}
    for pid in left:
        _kill(pid, signal.SIGKILL)
    # reap those that were our own children (the others belong to their parents or init)
    for pid in noted:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
