"""What a logged-in user may start: the Outposts' answers, kept in ``auth_state``, and the
checks a start must pass at the hub.

The ``auth_state`` the OIDC login keeps (nothing else; see
:class:`~launcher.login.authenticator.OIDCAuthenticator`)::

    {"name": "<hub user>", "groups": [...],           # what the OutpostSpawner sends
     "entitlements": [...], "resources": [{"system", "project", "account", ...}],
     "outpost_flavors": {"<system>": {<flavor>: {...}} | false},  # POST /userflavors
     "confirmed_at": <epoch s the provider last confirmed the login>,
     "userinfo_token": "<access token>" | "access_token": ...,    # see authenticator
     "oauth_user": {<a few claims>}}

``outpost_flavors`` always names every system (``false`` where the user may use none or
the Outpost did not answer), so it is never empty and the OutpostSpawner always sends the
user's ``authentication`` — the Outpost then applies its ``users:`` rules at start.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from launcher.login.entitlements import Resource
from launcher.systems import System


class StartRefused(Exception):
    """A start the user's rights do not allow; the message is for the user.

    JupyterHub shows ``jupyterhub_message`` and sends ``jupyterhub_html_message`` with the
    spawn's ``failed`` progress event; the latter carries the failure reason
    (:mod:`launcher.failures`) for a launcher in front of the hub to read."""

    def __init__(self, message: str, reason: str = "start_refused") -> None:
        super().__init__(message)
        self.reason = reason
        self.jupyterhub_message = message
        self.jupyterhub_html_message = (f'<p data-nfdi-reason="{html.escape(reason)}">'
                                        f"{html.escape(message)}</p>")


async def fetch_user_flavors(system: System, authentication: dict[str, Any],
                             timeout: float = 5.0) -> dict[str, Any] | bool:
    """``POST /userflavors`` of *system*'s Outpost: the flavors it grants this user, or
    False (none, or no usable answer: then the system is not offered)."""
    request = HTTPRequest(system.base_url + "/userflavors", method="POST",
                          headers={**system.auth_header(), "Content-Type": "application/json"},
                          body=json.dumps(authentication), connect_timeout=timeout,
                          request_timeout=timeout, follow_redirects=False)
    try:
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        flavors = json.loads(response.body) if response.code == 200 else None
    except (OSError, ValueError):
        return False
    if not isinstance(flavors, dict) or not flavors:
        return False
    return {str(k): v for k, v in flavors.items() if isinstance(v, dict)}


async def outpost_flavors(systems: dict[str, System], name: str, groups: list[str],
                          timeout: float = 5.0) -> dict[str, Any]:
    """``auth_state.outpost_flavors``: every system's answer for this user, asked in
    parallel with the same ``{name, groups}`` the OutpostSpawner sends at start."""
    authentication = {"name": name, "groups": groups}
    answers = await asyncio.gather(*(fetch_user_flavors(s, authentication, timeout)
                                     for s in systems.values()))
    return dict(zip(systems, answers, strict=True))


def held_resources(auth_state: dict[str, Any], system: str) -> list[Resource]:
    return [r for r in (Resource.from_json(x) for x in auth_state.get("resources") or []
                        if isinstance(x, dict)) if r.system == system]


def check_start(auth_state: dict[str, Any] | None, user_options: dict[str, Any],
                system: System, *, max_age: float, access_help: str = "",
                now: float | None = None) -> None:
    """Raise :class:`StartRefused` unless this user may start on *system* with
    *user_options* (pure): the rights were confirmed by the provider within *max_age*
    seconds, and an HPC start names a project the user holds. The flavor is the
    Outpost's to decide (it is sent the user's ``authentication``). Users without
    per-user rights (a login that keeps no ``outpost_flavors``, e.g. the local dummy
    login) are left to the Outpost alone."""
    if not auth_state or "outpost_flavors" not in auth_state:
        return
    age = (now or time.time()) - float(auth_state.get("confirmed_at") or 0)
    if age > max_age:
        raise StartRefused("Your access rights could not be confirmed with the login "
                           "service just now (it may be unreachable, or your login has "
                           "expired). Please log in again, then retry.", "login_expired")
    if system.needs_project:
        ask = f" {access_help.strip()}" if access_help.strip() else ""
        check_project(auth_state, user_options, system.name, ask)


def check_project(auth_state: dict[str, Any], user_options: dict[str, Any], system: str,
                  ask: str = "") -> None:
    """An HPC start names a project and account the user holds on *system*."""
    held = held_resources(auth_state, system)
    if not held:
        raise StartRefused(f"Your account holds no project on {system!r}.{ask}")
    hpc = user_options.get("hpc")
    hpc = hpc if isinstance(hpc, dict) else {}
    project, account = str(hpc.get("project") or ""), str(hpc.get("account") or "")
    if not any(r.project == project and r.account == account for r in held):
        choices = ", ".join(f"{r.project} (account {r.account})" for r in held)
        raise StartRefused(f"Choose one of your projects on {system!r}: {choices}.")
