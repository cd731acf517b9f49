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
    ``{set: {jupyterhub_name: [names] | "pattern", flavors: [...], flavorsOverride:
    {flavor: {key: value}}, weight}}``: the highest-weight set matching the calling hub
    decides which flavors it sees. With no ``hubs`` key every hub sees every flavor; with
    a ``hubs`` key a hub that matches no set sees none (stricter than the upstream
    Outpost, which then offers every flavor).
``users``
    ``{set: {authentication: {attr: pattern | [literals]}, negate_authentication, hubs,
    flavors, flavorsOverride, forbidden, weight}}``: decides for a user whose hub sent an
    ``authentication`` dict (the OutpostSpawner sends ``{name, groups, access_token}``;
    the hub's login calls ``POST /userflavors`` with the same keys). As in the upstream
    Outpost (``flavors_per_user``): a set applies to the hubs listed in ``hubs`` (exact
    names; all hubs without the key) and matches when ANY of its ``authentication`` keys
    matches a value of the user's; ``negate_authentication`` inverts that. Of the
    matching sets the highest ``weight`` wins, the last written among equals. The
    winner's ``forbidden: true`` leaves no flavor; otherwise its ``flavors`` list (taken
    from all flavors of the file, not only the hub's) and ``flavorsOverride`` apply.
    No authentication, or no matching set: the hub's flavors.

A pattern string is tried as a regular expression (full match), then as a glob, then
literally (upstream ``matches_pattern``); a list of strings matches by exact membership.
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
    """A start that the flavor rules forbid (reported to the hub as 419).

    ``reason`` is a stable code for programs (sent in the 419 body's ``kwargs``). Each
    reason also has its own subclass, because the class name is the part of the 419 body
    the OutpostSpawner passes on to the hub's users (it drops ``kwargs``): a launcher in
    front of the hub tells a limit from a forbidden flavor by it."""

    reason = "flavor_not_allowed"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class FlavorMissing(FlavorError):
    reason = "flavor_missing"


class FlavorUnknown(FlavorError):
    reason = "flavor_unknown"


class FlavorNotAllowed(FlavorError):
    """The user's rights (``users:`` rules) do not include this flavor."""

    reason = "flavor_not_allowed"


class UserForbidden(FlavorError):
    """A ``users:`` rule with ``forbidden: true`` decides for this user."""

    reason = "user_forbidden"


class FlavorUserLimit(FlavorError):
    """``maxPerUser`` servers of this flavor run for this (hub, user) already."""

    reason = "flavor_user_limit"


class FlavorFull(FlavorError):
    """``max`` servers of this flavor run already (all hubs and users)."""

    reason = "flavor_full"


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


#: bounds on the authentication dict a hub sends (its values come from a login provider)
MAX_AUTH_KEYS = 64
MAX_AUTH_VALUES = 1000
MAX_AUTH_VALUE_LENGTH = 4096


class AuthenticationError(ValueError):
    """An authentication dict out of bounds; ``key`` names the offending entry."""

    def __init__(self, key: str, msg: str) -> None:
        super().__init__(f"{key}: {msg}" if key else msg)
        self.key = key
        self.msg = msg


def check_authentication(auth: Any) -> dict[str, Any] | None:
    """The ``authentication`` object of a request, bounded (raises
    :class:`AuthenticationError`). Its values come from a login provider."""
    if auth is None:
        return None
    if not isinstance(auth, dict):
        raise AuthenticationError("", "must be an object")
    if len(auth) > MAX_AUTH_KEYS:
        raise AuthenticationError("", f"more than {MAX_AUTH_KEYS} keys")
    for key, value in auth.items():
        values = value if isinstance(value, list) else [value]
        if len(values) > MAX_AUTH_VALUES:
            raise AuthenticationError(str(key), f"more than {MAX_AUTH_VALUES} values")
        if any(isinstance(v, str) and len(v) > MAX_AUTH_VALUE_LENGTH for v in values):
            raise AuthenticationError(str(key), f"a value is longer than "
                                                f"{MAX_AUTH_VALUE_LENGTH} characters")
    return auth


def matches_pattern(pattern: str, value: str) -> bool:
    """One string against one rule string: as a regular expression (full match), then
    as a glob, then literally — the upstream Outpost's order (``matches_pattern``)."""
    try:
        if re.fullmatch(pattern, value):
            return True
    except re.error:
        pass
    return fnmatch.fnmatchcase(value, pattern) or value == pattern


def matches(pattern: Any, value: Any) -> bool:
    """Does *value* (a string, or a list of which any element counts) match *pattern*
    (a rule string, see :func:`matches_pattern`, or a list of literals)?"""
    values = value if isinstance(value, (list, tuple, set)) else [value]
    if isinstance(pattern, (list, tuple, set)):
        literals = {str(p) for p in pattern}
        return any(str(v) in literals for v in values)
    return any(matches_pattern(str(pattern), str(v)) for v in values)


def _best(sets: dict[str, dict[str, Any]], accept: Any) -> dict[str, Any] | None:
    """The matching set of highest weight; among equal weights the one written last
    (the upstream Outpost sorts the matches by weight and takes the last)."""
    best: dict[str, Any] | None = None
    for candidate in sets.values():
        if accept(candidate) and (best is None or float(candidate.get("weight", 0))
                                  >= float(best.get("weight", 0))):
            best = candidate
    return best


def _apply(flavors: dict[str, dict[str, Any]], rule: dict[str, Any],
           ) -> dict[str, dict[str, Any]]:
    allowed = rule.get("flavors")
    names = list(flavors) if allowed is None else [n for n in flavors if n in allowed]
    result = {n: copy.deepcopy(flavors[n]) for n in names}
    for name, override in (rule.get("flavorsOverride") or {}).items():
        if name in result and isinstance(override, dict):
            result[name].update(copy.deepcopy(override))
    return result


def _hub_matches(rule: dict[str, Any], hub: str) -> bool:
    names = rule.get("jupyterhub_name", [])
    if isinstance(names, str):
        return matches_pattern(names, hub)
    return hub in names


def user_matches(rule: dict[str, Any], hub: str, auth: dict[str, Any]) -> bool:
    """Does the ``users`` set *rule* apply to this hub and user?

    As in the upstream Outpost: a set with ``hubs`` applies only to the hubs listed
    (exact names); it matches when ANY of its ``authentication`` keys matches the
    user's value (or any of the user's values, for lists); ``negate_authentication``
    turns the result around."""
    hubs = rule.get("hubs")
    if hubs is not None and hub not in hubs:
        return False
    wanted = rule.get("authentication") or {}
    hit = any(key in auth and matches(pattern, auth[key]) for key, pattern in wanted.items())
    return hit != bool(rule.get("negate_authentication", False))


def hub_flavors(config: FlavorConfig, hub: str) -> dict[str, dict[str, Any]]:
    """The flavors *hub* may use, before any user rule."""
    if config.hubs is None:
        return copy.deepcopy(config.flavors)
    rule = _best(config.hubs, lambda s: _hub_matches(s, hub))
    return _apply(config.flavors, rule) if rule else {}


def user_rule(config: FlavorConfig, hub: str,
              auth: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``users`` set that decides for this user at this hub, if any."""
    if not auth:
        return None
    return _best(config.users, lambda s: user_matches(s, hub, auth))


def flavors_for(config: FlavorConfig, hub: str,
                auth: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The flavors *hub* (and, given its authentication dict, the user) may use.

    No authentication, or no matching ``users`` set: the hub's flavors. A matching set
    that is ``forbidden``: none. Otherwise the set's ``flavors`` (taken, as upstream,
    from all flavors of the file) with its ``flavorsOverride``."""
    rule = user_rule(config, hub, auth)
    if rule is None:
        return hub_flavors(config, hub)
    if rule.get("forbidden"):
        return {}
    return _apply(config.flavors, rule)


def sorted_flavors(flavors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Highest weight first (the order a form should offer them in)."""
    return dict(sorted(flavors.items(), key=lambda kv: -float(kv[1].get("weight", 0))))


def _names(flavors: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{flavors[n].get('display_name') or n} ({n})"
                     for n in sorted_flavors(flavors))


def refusal(config: FlavorConfig, hub: str, flavor: str | None,
            auth: dict[str, Any] | None, access_help: str = "") -> FlavorError | None:
    """Why *flavor* may not be started here (in words for the person who asked), or
    None when it may."""
    allowed = flavors_for(config, hub, auth)
    if flavor and flavor in allowed:
        return None
    rule = user_rule(config, hub, auth)
    ask = f" {access_help.strip()}" if access_help.strip() else ""
    if rule is not None and rule.get("forbidden"):
        return UserForbidden(f"Your account may not start servers on this system.{ask}")
    if not flavor:
        return FlavorMissing(f"No flavor was chosen. You may use: {_names(allowed) or 'none'}.")
    if flavor in hub_flavors(config, hub) or (rule is not None and flavor in config.flavors):
        mine = f"You may use: {_names(allowed)}." if allowed else \
            "Your account may use no flavor on this system."
        return FlavorNotAllowed(f"Your account may not use the flavor {flavor!r} on this "
                                f"system. {mine}{ask}")
    return FlavorUnknown(f"The flavor {flavor!r} does not exist on this system. "
                         f"Available: {_names(allowed) or 'none'}.")


def check_start(config: FlavorConfig, hub: str, flavor: str | None,
                auth: dict[str, Any] | None, *, running_global: int,
                running_user: int, access_help: str = "") -> dict[str, Any]:
    """Return the flavor dict a start may use, or raise :class:`FlavorError` with a
    message for the user (*access_help*, e.g. whom to ask, is added to refusals that
    come from the user's rights).

    *running_global* counts this flavor's services over all hubs, *running_user* those of
    this (hub, user id).
    """
    if not config.enforced:
        return {}
    refused = refusal(config, hub, flavor, auth, access_help)
    if refused is not None:
        raise refused
    assert flavor is not None
    chosen = flavors_for(config, hub, auth)[flavor]
    shown = str(chosen.get("display_name") or flavor)
    per_user = int(chosen.get("maxPerUser", -1))
    if per_user >= 0 and running_user >= per_user:
        raise FlavorUserLimit(f"You already run {_servers(running_user)} on {shown!r} (the "
                              "limit). Stop one, or pick another flavor.")
    total = int(chosen.get("max", -1))
    if total >= 0 and running_global >= total:
        raise FlavorFull(f"All {_servers(total)} on {shown!r} are in use. Try again later, "
                         "or pick another flavor.")
    return chosen


def _servers(n: int) -> str:
    return f"{n} server" if n == 1 else f"{n} servers"


def runtime_of(flavor: dict[str, Any]) -> timedelta | None:
    runtime = flavor.get("runtime")
    if not runtime:
        return None
    return timedelta(**{k: float(v) for k, v in runtime.items() if k in RUNTIME_KEYS})
