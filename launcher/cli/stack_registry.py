"""The stack's own registry: storage and port kept in the state directory, base images seeded.

Images the stack builds are named ``127.0.0.1:<port>/...``, and so are the launch receipts
that record them. So that both still name a registry that answers after a restart:

- the storage is ``<state-dir>/registry`` (images survive a restart);
- the port it got on the first start is kept in ``<state-dir>/registry-port`` and used again
  on every later start while it is free; if something else holds it, the stack takes another
  port, records that one, and says so in one line (images and receipts that name the old
  port do not resolve against this registry then).

Before the stack's URL is printed the registry holds the base images builds start from
(:mod:`launcher.cli.stack_seed`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from launcher.cli.stack_files import write_registry_config
from launcher.cli.stack_procs import Children, say
from launcher.cli.stack_seed import SeedError, seed_registry
from launcher.cli.stack_state import Component, free_ports, port_in_use

PORT_NAME = "registry-port"


def recorded_port(state: Path) -> int | None:
    """The registry port recorded for *state*, if there is a valid one."""
    try:
        port = int((state / PORT_NAME).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def keep_port(state: Path, avoid: Collection[int] = ()) -> int:
    """The registry's port on *state*: the recorded one while it is free, else a new free one
    (recorded, and said in one line when it replaces a recorded port)."""
    old = recorded_port(state)
    if old is not None and old not in avoid and not port_in_use(old):
        return old
    port = free_ports(1, avoid)[0]
    (state / PORT_NAME).write_text(f"{port}\n", encoding="utf-8")
    if old is not None:
        say(f"registry: port {old} (used before on this state directory) is taken; using {port} "
            f"now, so images and receipts naming 127.0.0.1:{old} are not found here")
    return port


def registry_binary(wanted: bool) -> str | None:
    """``docker-registry`` when the stack should and can start one."""
    return shutil.which("docker-registry") if wanted else None


def start_registry(state: Path, binary: str | None, port: int, children: Children,
                   wait: Callable[..., Any], comps: list[Component], notes: list[str], *,
                   seed_images: list[str], seed: Path | None) -> str:
    """Start *binary* on *port* over ``<state>/registry`` and seed it; its URL ("" without
    a binary). *wait* is the stack's ``_wait(children, url, what, ...)``."""
    if not binary:
        notes.append("registry: none (images stay in the local Docker engine)")
        return ""
    config = write_registry_config(state, port)
    proc = children.spawn("registry", [binary, "serve", str(config)])
    url = f"http://127.0.0.1:{port}"
    wait(children, url + "/v2/", "the registry")
    comps.append(Component("registry", proc.pid, url, str(children.log_path("registry"))))
    notes.append(f"registry: {url}")
    _seed(state / "registry", url, notes, seed_images, seed)
    return url


def _seed(storage: Path, url: str, notes: list[str], images: list[str],
          seed: Path | None) -> None:
    """Base images into the registry now, not in the first launch (see stack_seed)."""
    if not images:
        return
    say("registry: making sure it holds the base images builds start from ...")
    try:
        lines = seed_registry(storage, url.removeprefix("http://"), images, seed)
    except (SeedError, OSError, subprocess.TimeoutExpired) as e:
        notes.append(f"registry: base images NOT seeded ({e}); the first build pushes them")
        return
    notes.extend(f"registry holds {line}" for line in lines)
