"""eduPersonEntitlement values -> JupyterHub groups and HPC resources (pure).

Both mappings are operator configuration, regular expressions with named groups
(:class:`EntitlementMapper`). The defaults follow AARC:

- a group membership (AARC-G002/G069)
  ``urn:<namespace>:group:<group>[:<subgroup>...][:role=<role>][#<authority>]`` becomes
  the JupyterHub group ``<namespace>:<group>[:<subgroup>...]`` (and, with a role,
  ``...:role=<role>``). The namespace stays in the name, so two communities' groups of
  the same name never mix;
- a resource capability (the form Jupyter-JSC's ``res_pattern`` reads)
  ``urn:<namespace>:res:<system-partition>:<project>:act:<account>:<accounttype>``
  becomes a :class:`Resource` (system, partition, project, account) and the groups
  ``res:<system>`` and ``res:<system>:<project>``, so an Outpost's ``users:`` rules (which
  see only a user's name and groups) can grant flavors to holders of a project.

Entitlements are untrusted text (they pass through community AAIs): values longer than
``max_length``, with characters a URN cannot hold (whitespace, controls, markup,
non-ASCII), or beyond ``max_count`` are
dropped, never matched; what a pattern captured is used as data only, never as a
pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from traitlets import Dict, Int, List, Unicode, validate
from traitlets.config import LoggingConfigurable

#: AARC-G069 group membership (G002 compatible); ``group`` is the colon-separated path
AARC_GROUP = (r"urn:(?P<namespace>[^#\s]+?):group:(?P<group>[^:#]+(?::(?!role=)[^:#]+)*)"
              r"(?::role=(?P<role>[^:#]+))?(?:#(?P<authority>[^#]+))?")

#: AARC resource capability with project and account, as Jupyter-JSC parses it
AARC_RESOURCE = (r"urn:(?P<namespace>[^#\s]+?):res:(?P<resource>[^:#]+):(?P<project>[^:#]+)"
                 r":act:(?P<account>[^:#]+):(?P<accounttype>[^:#]+)(?:#(?P<authority>[^#]+))?")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: what an entitlement (a URN) may consist of: printable ASCII without the characters a
#: URN never holds; anything else (spaces, controls, markup, non-ASCII) is dropped
_URN_CHARS = re.compile(r"[!#-;=?-Z_a-z~\[\]]+")


@dataclass(frozen=True, order=True)
class Resource:
    """One HPC allocation a user holds on a system."""

    system: str
    project: str
    account: str
    partition: str = ""
    accounttype: str = ""

    def to_json(self) -> dict[str, str]:
        return {"system": self.system, "project": self.project, "account": self.account,
                "partition": self.partition, "accounttype": self.accounttype}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        return cls(**{k: str(data.get(k) or "") for k in
                      ("system", "project", "account", "partition", "accounttype")})


@dataclass(frozen=True)
class Rights:
    """What a user's entitlements grant: groups and resources; what was not understood."""

    groups: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    accepted: tuple[str, ...] = ()  # the entitlements a rule understood
    unmatched: int = 0
    dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "resources": [r.to_json() for r in self.resources]}


@dataclass(frozen=True)
class Rules:
    """Compiled mapping rules (see :class:`EntitlementMapper` for each field)."""

    group_patterns: tuple[re.Pattern[str], ...]
    group_templates: tuple[str, ...]
    resource_patterns: tuple[re.Pattern[str], ...]
    resource_groups: tuple[str, ...]
    resource_names: dict[str, dict[str, str]] = field(default_factory=dict)
    max_count: int = 256
    max_length: int = 1024


def fill(template: str, values: dict[str, str]) -> str:
    """``{name}`` placeholders filled from *values* (missing ones become ""); nothing
    else of ``str.format`` (no attribute or index access)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or "", template)


def _captured(match: re.Match[str]) -> dict[str, str]:
    return {k: v for k, v in match.groupdict().items() if v}


def _group_names(templates: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Each template filled; ``{group}`` also once per parent of a ``a:b:c`` path."""
    path = values.get("group", "")
    parts = path.split(":") if path else [""]
    names: list[str] = []
    for depth in range(len(parts), 0, -1):
        vals = {**values, "group": ":".join(parts[:depth])}
        if depth < len(parts):
            vals.pop("role", None)  # a role belongs to the group that carries it
        for template in templates:
            if "{role}" in template and not vals.get("role"):
                continue
            names.append(fill(template, vals))
    return names


def _resource(rules: Rules, values: dict[str, str]) -> Resource | None:
    name = values.get("resource", values.get("system", ""))
    mapped = rules.resource_names.get(name.lower(), {})
    system = mapped.get("system") or values.get("system") or name
    if not (system and values.get("project") and values.get("account")):
        return None
    return Resource(system=system, project=values["project"], account=values["account"],
                    partition=mapped.get("partition") or values.get("partition", ""),
                    accounttype=values.get("accounttype", ""))


def map_entitlements(entitlements: Any, rules: Rules) -> Rights:
    """Map a claim's value (a list of strings, or one string) to :class:`Rights`."""
    values = entitlements if isinstance(entitlements, list) else [entitlements]
    groups: dict[str, None] = {}
    resources: dict[Resource, None] = {}
    accepted: list[str] = []
    unmatched = dropped = 0
    for position, value in enumerate(values):
        if (position >= rules.max_count or not isinstance(value, str)
                or len(value) > rules.max_length or not _URN_CHARS.fullmatch(value)):
            dropped += 1
            continue
        hit = False
        for pattern in rules.resource_patterns:
            match = pattern.fullmatch(value)
            resource = _resource(rules, _captured(match)) if match else None
            if resource is not None:
                resources[resource] = None
                for template in rules.resource_groups:
                    groups[fill(template, resource.to_json())] = None
                hit = True
                break
        for pattern in () if hit else rules.group_patterns:
            match = pattern.fullmatch(value)
            if match and match.group("group"):
                groups.update(dict.fromkeys(_group_names(rules.group_templates,
                                                         _captured(match))))
                hit = True
                break
        if hit:
            accepted.append(value)
        else:
            unmatched += 1
    groups.pop("", None)
    return Rights(groups=tuple(sorted(groups)), resources=tuple(sorted(resources)),
                  accepted=tuple(accepted), unmatched=unmatched, dropped=dropped)


def _resource_name(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"system": value}
    return {str(k): str(v) for k, v in dict(value).items()}


class EntitlementMapper(LoggingConfigurable):
    """How entitlements (``c.EntitlementMapper.*`` in ``jupyterhub_config.py``) become
    JupyterHub groups and HPC resources. See :mod:`launcher.login.entitlements`."""

    group_patterns = List(
        Unicode(),
        [AARC_GROUP],
        help="""Regular expressions (full match) for group memberships, tried in order.
        Named groups: ``group`` (required; a ``:``-separated path), and any others the
        templates use (the default AARC-G069 pattern has ``namespace``, ``role``,
        ``authority``).""",
    ).tag(config=True)

    group_templates = List(
        Unicode(),
        ["{namespace}:{group}", "{namespace}:{group}:role={role}"],
        help="""JupyterHub group names made from a matched group membership, with
        ``{name}`` placeholders for the pattern's named groups. A template with
        ``{group}`` is filled for the group and each parent of its path (``a:b:c`` ->
        ``a``, ``a:b``, ``a:b:c``); one with ``{role}`` only when a role was given.""",
    ).tag(config=True)

    resource_patterns = List(
        Unicode(),
        [AARC_RESOURCE],
        help="""Regular expressions (full match) for HPC resource capabilities, tried
        before the group patterns. Named groups: ``project``, ``account`` (required),
        ``resource`` (the entitlement's system-partition name, looked up in
        ``resource_names``) or ``system`` and ``partition`` directly, ``accounttype``.""",
    ).tag(config=True)

    resource_names = Dict(
        {},
        help="""The entitlements' resource names (lower case) -> ``{"system": <the
        hub's system name>, "partition": <partition>}``, like Jupyter-JSC's
        mapSystems/mapPartitions, e.g. ``{"juwels_batch": {"system": "JUWELS",
        "partition": "batch"}}``. A name not listed is taken as the system name.""",
    ).tag(config=True)

    resource_groups = List(
        Unicode(),
        ["res:{system}", "res:{system}:{project}"],
        help="""JupyterHub groups given to the holder of a resource (placeholders:
        ``system``, ``project``, ``account``, ``partition``, ``accounttype``), so that
        an Outpost's ``users:`` rules can match them.""",
    ).tag(config=True)

    max_count = Int(256, help="Entitlements read per login; the rest are ignored.").tag(
        config=True)

    max_length = Int(1024, help="Longer entitlement values are ignored.").tag(config=True)

    @validate("group_patterns", "resource_patterns")
    def _compiles(self, proposal: Any) -> list[str]:
        for pattern in proposal["value"]:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"EntitlementMapper: bad pattern {pattern!r}: {e}") from e
        return list(proposal["value"])

    def rules(self) -> Rules:
        return Rules(
            group_patterns=tuple(re.compile(p) for p in self.group_patterns),
            group_templates=tuple(self.group_templates),
            resource_patterns=tuple(re.compile(p) for p in self.resource_patterns),
            resource_groups=tuple(self.resource_groups),
            resource_names={str(k).lower(): _resource_name(v)
                            for k, v in self.resource_names.items()},
            max_count=self.max_count, max_length=self.max_length)

    def map(self, entitlements: Any) -> Rights:
        rights = map_entitlements(entitlements, self.rules())
        if rights.dropped or rights.unmatched:
            self.log.info("entitlements: %d matched no rule, %d ignored (too long, too "
                          "many or with control characters)", rights.unmatched, rights.dropped)
        return rights
