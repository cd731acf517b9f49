"""What ``nfdi-launcher stack`` keeps about itself in its state directory: a lock and a status file.

- ``stack.lock``: held (``flock``) for as long as a stack runs on the directory, so a second
  stack on the same state is refused, and ``--status`` can tell a running stack from a
  status file left by one that was killed.
- ``stack.json``: the URL, the mode and each component's PID, address and log file; written
  once the stack is up, removed when it stops.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from jupyterhub.utils import random_port

LOCK_NAME = "stack.lock"
STATUS_NAME = "stack.json"


class StackError(Exception):
    """A reason not to start, for the one-line ``error:`` message (exit status 2)."""


@dataclass
class Component:
    name: str
    pid: int | None
    url: str
    log: str


@dataclass
class StackStatus:
    pid: int
    url: str
    mode: str
    started: float
    components: list[Component] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackStatus:
        comps = [Component(**c) for c in data.get("components", [])]
        return cls(pid=int(data["pid"]), url=str(data["url"]), mode=str(data["mode"]),
                   started=float(data["started"]), components=comps,
                   notes=[str(n) for n in data.get("notes", [])])


class StateLock:
    """An exclusive ``flock`` on ``<state>/stack.lock`` for the life of this process."""

    def __init__(self, state: Path) -> None:
        self.path = state / LOCK_NAME
        self._file: TextIO | None = None

    def acquire(self) -> None:
        f = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            status = read_status(self.path.parent)
            where = f" (pid {status.pid}, {status.url})" if status else ""
            raise StackError(f"a stack already runs on {self.path.parent}{where}; stop it "
                             "first or pass another --state-dir") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f  # descriptors are not inherited by children (PEP 446)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None



def held(state: Path) -> bool:
    """True while some process holds the state directory's lock."""
    path = state / LOCK_NAME
    if not path.exists():
        return False
    with path.open("a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def write_status(state: Path, status: StackStatus) -> None:
    tmp = state / (STATUS_NAME + ".tmp")
    tmp.write_text(json.dumps(status.to_json(), indent=1), encoding="utf-8")
    tmp.replace(state / STATUS_NAME)


def read_status(state: Path) -> StackStatus | None:
    try:
        return StackStatus.from_json(json.loads((state / STATUS_NAME).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_status(state: Path) -> None:
    (state / STATUS_NAME).unlink(missing_ok=True)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on *host*:*port* (a TIME_WAIT leftover does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False



def free_ports(count: int, taken: Collection[int] = ()) -> list[int]:
    """*count* distinct free loopback ports, none of them in *taken*."""
    ports: list[int] = []
    while len(ports) < count:
        port = random_port()
        if port not in taken and port not in ports:
            ports.append(port)
    return ports

def _pid_state(pid: int | None) -> str:
    if not pid:
        return "hub service"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "NOT RUNNING"
    except PermissionError:
        pass
    return "running"


def describe(state: Path) -> tuple[list[str], bool]:
    """The lines ``--status`` prints, and whether a stack runs on *state*."""
    status = read_status(state)
    if not held(state):
        line = f"no stack runs on {state}"
        if status is not None:
            line += " (the last one did not stop cleanly; its status file is stale)"
        return [line], False
    if status is None:
        return [f"a stack is starting on {state} (pid {_lock_pid(state)}); not up yet"], True
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.started))
    lines = [f"nfdi-launcher stack on {state}: up since {since} (pid {status.pid})",
             f"  open: {status.url}",
             f"  mode: {status.mode}"]
    lines += [f"  {note}" for note in status.notes]
    width = max((len(c.name) for c in status.components), default=8)
    for c in status.components:
        pid = f"pid {c.pid}" if c.pid else "-"
        lines.append(f"  {c.name:<{width}}  {_pid_state(c.pid):<11} {pid:<10} {c.url or '-'}"
                     f"  log {c.log}")
    return lines, True


def _lock_pid(state: Path) -> str:
    try:
        return (state / LOCK_NAME).read_text(encoding="utf-8").strip() or "?"
    except OSError:
        return "?"
