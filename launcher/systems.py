"""Systems (resources behind Outposts) and their flavors, as the hub and the launcher see them.

The systems file (JSON, mode 0600: it holds the Outpost passwords) is shared by the hub's
configuration (:func:`launcher.hubconfig.configure_hub`) and the launcher, which asks each
Outpost for the flavors this hub may use (:func:`fetch_flavors`)::

    {"systems": {"<system>": {"url": "http://127.0.0.1:8090/services",
                              "hub_name": "<Basic-auth user = this hub's identity>",
                              "password": "...", "display_name": "...",
                              "needs_project": false}}}

``needs_project`` marks an HPC system: a start there names one of the user's projects and
accounts (``user_options.hpc``), which the OIDC login reads from the user's entitlements.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass(frozen=True)
class System:
    """One resource behind an Outpost, as the hub and the launcher see it."""

    name: str
    url: str  # the Outpost's ``/services`` URL
    hub_name: str
    password: str
    display_name: str = ""
    needs_project: bool = False

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/").removesuffix("/services")

    def auth_header(self) -> dict[str, str]:
        raw = f"{self.hub_name}:{self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def public(self) -> dict[str, Any]:
        """What may be shown to users (no credentials)."""
        return {"name": self.name, "display_name": self.display_name or self.name,
                "needs_project": self.needs_project}


def load_systems(path: str | Path) -> dict[str, System]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: System(name=name, **spec) for name, spec in data["systems"].items()}


def write_systems(path: str | Path, systems: list[System]) -> None:
    body = {"systems": {s.name: {"url": s.url, "hub_name": s.hub_name, "password": s.password,
                                 "display_name": s.display_name,
                                 "needs_project": s.needs_project} for s in systems}}
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=2)


def fetch_flavors(system: System, timeout: float = 5.0) -> dict[str, Any]:
    """The flavors this hub may use on *system* (``GET /flavors/`` of its Outpost)."""
    r = requests.get(system.base_url + "/flavors/", headers=system.auth_header(),
                     timeout=timeout)
    r.raise_for_status()
    flavors = r.json()
    if not isinstance(flavors, dict):
        raise ValueError(f"Outpost of {system.name} answered flavors that are not an object")
    return flavors


def launcher_systems(systems_file: str | Path) -> list[dict[str, Any]]:
    """``LauncherConfig.systems`` from the Outposts: each system with the flavors its
    Outpost grants this hub (``GET /flavors/``), highest weight first. A system whose
    Outpost does not answer is left out (a launch there could not start anyway)."""
    result = []
    for system in load_systems(systems_file).values():
        try:
            flavors = fetch_flavors(system)
        except (requests.RequestException, ValueError):
            continue
        result.append({**system.public(), "flavors": [
            flavor_entry(name, f) for name, f in flavors.items()]})
    return result


def flavor_entry(name: str, flavor: dict[str, Any]) -> dict[str, Any]:
    """A flavor as the launcher offers it (no limits or resources beyond these)."""
    return {"name": name, "display_name": flavor.get("display_name", name),
            "description": flavor.get("description", ""), "max": flavor.get("max", -1),
            "current": flavor.get("current", 0)}


def systems_for_auth_state(systems: list[dict[str, Any]],
                           auth_state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``LauncherConfig.systems`` as one user may use them (pure).

    A login that keeps per-user rights (the OIDC login, :mod:`launcher.login.rights`)
    leaves in ``auth_state.outpost_flavors`` each system's answer for the user: only
    systems with flavors there are offered, with exactly those flavors (highest weight
    first); an HPC system (``needs_project``) only with the user's projects, listed
    under ``projects``. Without such a login every user sees every system."""
    if not auth_state or not isinstance(auth_state.get("outpost_flavors"), dict):
        return [dict(s) for s in systems]
    allowed = auth_state["outpost_flavors"]
    resources = [r for r in auth_state.get("resources") or [] if isinstance(r, dict)]
    result = []
    for system in systems:
        flavors = allowed.get(system.get("name"))
        if not isinstance(flavors, dict) or not flavors:
            continue
        projects = [{"project": str(r.get("project", "")), "account": str(r.get("account", "")),
                     "partition": str(r.get("partition") or "")}
                    for r in resources if r.get("system") == system.get("name")]
        if system.get("needs_project") and not projects:
            continue
        ordered = sorted(flavors.items(), key=lambda kv: -float(kv[1].get("weight", 0)))
        entry = {**system, "flavors": [flavor_entry(n, f) for n, f in ordered]}
        if projects:
            entry["projects"] = projects
        result.append(entry)
    return result


def pick_resource(systems: list[dict[str, Any]], system: str, flavor: str) -> tuple[str, str]:
    """Validate (system, flavor) against *systems* (one user's); empty values pick the
    defaults (the first system, its first flavor).

    Raises ValueError with a user-facing message for an unknown system or flavor.
    """
    if not systems:
        return system, flavor
    chosen = systems[0]
    if system:
        matches = [s for s in systems if s.get("name") == system]
        if not matches:
            names = [str(s.get("name", "")) for s in systems]
            raise ValueError(f"unknown system {system!r}; choose one of {names}")
        chosen = matches[0]
    flavors = [str(f.get("name", "")) for f in chosen.get("flavors", [])]
    if flavor and flavors and flavor not in flavors:
        raise ValueError(f"unknown flavor {flavor!r} for system {chosen.get('name')!r}; "
                         f"choose one of {flavors}")
    return str(chosen.get("name", "")), flavor or (flavors[0] if flavors else "")


def pick_project(systems: list[dict[str, Any]], system: str, project: str,
                 account: str) -> dict[str, str]:
    """``user_options.hpc`` for a launch on *system*: the user's project and account there
    (the first one when none is named), or {} on a system without projects.

    Raises ValueError with a user-facing message for a project the user does not hold."""
    entry = next((s for s in systems if s.get("name") == system), {})
    held = entry.get("projects") or []
    if not held:
        if project or account:
            raise ValueError(f"the system {system!r} takes no project")
        return {}
    for choice in held:
        if (not project or choice["project"] == project) and (
                not account or choice["account"] == account):
            return {k: str(choice.get(k) or "") for k in ("project", "account", "partition")
                    if choice.get(k)}
    names = ", ".join(f"{c['project']} (account {c['account']})" for c in held)
    raise ValueError(f"choose one of your projects on {system!r}: {names}")
