"""Flavor rules of ``flavors.yaml`` (pure: no I/O besides :func:`load_flavors`).

The file has three top-level keys, as in the JupyterHub Outpost:

``flavors``
    ``{name: {max, maxPerUser, weight, display_name, description, runtime, resources,
    start_timeout}}``. ``max`` is the limit over all hubs and users (``-1`` = unlimited),
    ``maxPerUser`` the limit per (hub, user id), ``runtime`` the ``timedelta`` keywords
    after which a server is stopped, ``resources`` what the backend applies (``cpu_limit``,
    ``mem_limit``), ``start_timeout`` the seconds a start may take until the server answers
    (else the backend's ``start_timeout``).
``hubs``
    ``{set: {jupyterhub_name: [names] | "regex-or-glob", flavors: [...], flavorsOverride:
    {flavor: {key: value}}, weight}}``: the highest-weight set matching the calling hub
    decides which flavors it sees. With no ``hubs`` key every hub sees every flavor; with
    a ``hubs`` key a hub that matches no set sees none.
``users``
    ``{set: {authentication: {attr: pattern | [literals]}, negate_authentication, hubs,
    flavors, flavorsOverride, forbidden, weight}}``: the highest-weight set matching the
    user's authentication dict (sent by the hub) narrows the hub's flavors further.

Patterns are tried as a regular expression (full match), then as a glob, then literally.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

RUNTIME_KEYS = {"weeks", "days", "hours", "minutes", "seconds"}


class FlavorError(Exception):
    """A start that the flavor rules forbid (reported to the hub as 419)."""


@dataclass(frozen=True)
class FlavorConfig:
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    hubs: dict[str, dict[str, Any]] | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def enforced(self) -> bool:
        """With flavors configured, every start must name an allowed flavor."""
        return bool(self.flavors)


def parse_flavors(data: Any) -> FlavorConfig:
    """Validate the parsed YAML document and return a :class:`FlavorConfig`."""
    if data is None:
        return FlavorConfig()
    if not isinstance(data, dict):
        raise ValueError("flavors file: top level must be a mapping")
    unknown = set(data) - {"flavors", "hubs", "users"}
    if unknown:
        raise ValueError(f"flavors file: unknown top-level keys {sorted(unknown)}")
    flavors = data.get("flavors") or {}
    hubs = data.get("hubs")
    users = data.get("users") or {}
    for section, value in (("flavors", flavors), ("hubs", hubs or {}), ("users", users)):
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ValueError(f"flavors file: {section} must map names to mappings")
    for name, flavor in flavors.items():
        runtime = flavor.get("runtime")
        if runtime is not None and (not isinstance(runtime, dict)
                                    or not set(runtime) <= RUNTIME_KEYS):
            raise ValueError(f"flavor {name}: runtime must use keys {sorted(RUNTIME_KEYS)}")
        timeout = flavor.get("start_timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ValueError(f"flavor {name}: start_timeout must be a positive number of seconds")
    return FlavorConfig(flavors=flavors, hubs=hubs, users=users)


def load_flavors(path: str | Path | None) -> FlavorConfig:
    """Read ``flavors.yaml``; no path or a missing file means "no flavor rules"."""
    if not path or not Path(path).exists():
        return FlavorConfig()
    with open(path, encoding="utf-8") as f:
        return parse_flavors(yaml.safe_load(f))


def matches(pattern: Any, value: Any) -> bool:
    """Does *value* (a string, or a list of which any element counts) match *pattern*?"""
    if isinstance(value, (list, tuple, set)):
        return any(matches(pattern, v) for v in value)
    if isinstance(pattern, (list, tuple, set)):
        return str(value) in {str(p) for p in pattern}
    pattern, value = str(pattern), str(value)
    try:
        if re.fullmatch(pattern, value):
            return True
    except re.error:
        pass
    return fnmatch.fnmatchcase(value, pattern) or value == pattern


def _best(sets: dict[str, dict[str, Any]], accept: Any) -> dict[str, Any] | None:
    candidates = [s for s in sets.values() if accept(s)]
    if not candidates:
        return None
    return max(candidates, key=lambda s: float(s.get("weight", 0)))


def _apply(flavors: dict[str, dict[str, Any]], rule: dict[str, Any],
           ) -> dict[str, dict[str, Any]]:
    allowed = rule.get("flavors")
    names = list(flavors) if allowed is None else [n for n in allowed if n in flavors]
    result = {n: copy.deepcopy(flavors[n]) for n in names}
    for name, override in (rule.get("flavorsOverride") or {}).items():
        if name in result and isinstance(override, dict):
            result[name].update(copy.deepcopy(override))
    return result


def _user_matches(rule: dict[str, Any], hub: str, auth: dict[str, Any]) -> bool:
    hubs = rule.get("hubs")
    if hubs is not None and not any(matches(h, hub) for h in hubs):
        return False
    wanted = rule.get("authentication") or {}
    hit = all(key in auth and matches(pattern, auth[key]) for key, pattern in wanted.items())
    return hit != bool(rule.get("negate_authentication", False))


def flavors_for(config: FlavorConfig, hub: str,
                auth: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The flavors *hub* (and, given its authentication dict, the user) may use."""
    flavors = config.flavors
    if config.hubs is not None:
        rule = _best(config.hubs, lambda s: matches(s.get("jupyterhub_name", []), hub))
        flavors = _apply(flavors, rule) if rule else {}
    else:
        flavors = copy.deepcopy(flavors)
    if auth:
        rule = _best(config.users, lambda s: _user_matches(s, hub, auth))
        if rule is not None:
            flavors = {} if rule.get("forbidden") else _apply(flavors, rule)
    return flavors


def sorted_flavors(flavors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Highest weight first (the order a form should offer them in)."""
    return dict(sorted(flavors.items(), key=lambda kv: -float(kv[1].get("weight", 0))))


def check_start(config: FlavorConfig, hub: str, flavor: str | None,
                auth: dict[str, Any] | None, *, running_global: int,
                running_user: int) -> dict[str, Any]:
    """Return the flavor dict a start may use, or raise :class:`FlavorError`.

    *running_global* counts this flavor's services over all hubs, *running_user* those of
    this (hub, user id).
    """
    if not config.enforced:
        return {}
    allowed = flavors_for(config, hub, auth)
    if not flavor:
        raise FlavorError(f"No flavor given. Allowed flavors: {', '.join(allowed) or 'none'}")
    if flavor not in allowed:
        raise FlavorError(f"Start with flavor {flavor} not allowed. "
                          f"Allowed flavors: {', '.join(allowed) or 'none'}")
    chosen = allowed[flavor]
    per_user = int(chosen.get("maxPerUser", -1))
    if per_user >= 0 and running_user >= per_user:
        raise FlavorError(f"Flavor {flavor}: limit of {per_user} server(s) per user reached")
    total = int(chosen.get("max", -1))
    if total >= 0 and running_global >= total:
        raise FlavorError(f"Flavor {flavor}: all {total} slot(s) are in use, try later")
    return chosen


def runtime_of(flavor: dict[str, Any]) -> timedelta | None:
    runtime = flavor.get("runtime")
    if not runtime:
        return None
    return timedelta(**{k: float(v) for k, v in runtime.items() if k in RUNTIME_KEYS})
