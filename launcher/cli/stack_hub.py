"""JupyterHub in ``nfdi-launcher stack``: its process, the check that the hub answering on the
public port is this stack's own, and the login line printed with the URL.

What the hub runs (launcher service, idle culler, login) is decided by the stack
(:mod:`launcher.cli.stack`) and written by :func:`launcher.cli.stack_files.write_hub_files`.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from launcher.cli.stack_files import StackPorts, secret_file, write_hub_files
from launcher.cli.stack_procs import Children
from launcher.cli.stack_state import Component, StackError

VENV_BIN = Path(sys.executable).parent


def start_hub(state: Path, ports: StackPorts, systems_file: Path,
              launcher_cmd: list[str] | None, extra: str, children: Children,
              wait: Callable[..., Any], comps: list[Component]) -> tuple[str, bool]:
    """Write the hub's config, start it and wait for it (and for the launcher service, when
    there is one); the URL to open and whether the login password is new. *wait* is the
    stack's ``_wait(children, url, what, ...)``."""
    public = f"http://127.0.0.1:{ports.public}/"
    password, first_time = secret_file(state / "login-password", 12)
    write_hub_files(state, ports, systems_file, launcher_cmd, password, extra)
    proc = children.spawn("jupyterhub", [str(VENV_BIN / "jupyterhub"), "-f",
                                         str(state / "jupyterhub_config.py")],
                          env={"CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16)})
    wait_for_own_hub(children, public, state, wait)
    hub_log = str(children.log_path("jupyterhub"))
    comps.append(Component("jupyterhub", proc.pid, public + "hub/", hub_log))
    if not launcher_cmd:
        return public + "hub/", first_time
    wait(children, public + "services/launcher/health", "the launcher", ok=(200, 302))
    comps.append(Component("launcher", None, public + "services/launcher/", hub_log))
    return public + "services/launcher/", first_time


def wait_for_own_hub(children: Children, public: str, state: Path,
                     wait: Callable[..., Any]) -> None:
    """Wait until OUR hub answers on the public port: another hub there would refuse
    this stack's service token (a port taken after the check, by a race)."""
    token = (state / "launcher-token").read_text(encoding="utf-8").strip()

    def answer(status: int) -> bool:
        if status in (401, 403):
            raise StackError(f"port {public.rsplit(':', 1)[1].rstrip('/')} answers for "
                             "another JupyterHub; choose another --port")
        return status == 200

    wait(children, public + "hub/api/user", "JupyterHub", check=answer,
         headers={"Authorization": f"token {token}"})


def login_note(state: Path, first_time: bool, *, anonymous: bool, oidc_note: str = "") -> str:
    """How to log in, for the person who started the stack (never the password itself)."""
    if oidc_note:
        return oidc_note
    if anonymous:
        return ("login: none needed, every launch runs as a new temporary user "
                f"(the hub login still works with the password in {state / 'login-password'})")
    # The password goes to a 0600 file, never to the terminal (terminals get logged).
    created = " (new)" if first_time else ""
    return f"login: any user name, the password in {state / 'login-password'}{created}"
