"""Validation of the ``POST /services`` body (pure). Errors become 422."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from outpost.flavors import AuthenticationError, check_authentication

_START_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HUB_NAME_MAX = 255


class BodyError(ValueError):
    """A malformed request body; ``loc`` names the offending field."""

    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(f"{loc}: {msg}")
        self.loc = loc
        self.msg = msg


@dataclass
class StartBody:
    name: str
    start_id: str
    env: dict[str, str]
    user_options: dict[str, Any]
    flavor: str
    authentication: dict[str, Any] | None = None
    misc: dict[str, Any] = field(default_factory=dict)


def _dict(body: dict[str, Any], key: str, required: bool = False) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise BodyError(key, "field required")
        return {}
    if not isinstance(value, dict):
        raise BodyError(key, "must be an object")
    return value


def check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or len(name) > _HUB_NAME_MAX or "/" in name or any(
            ord(c) < 32 for c in name):
        raise BodyError(what, "must be a string without '/' or control characters")
    return name


def parse_authentication(auth: Any, loc: str = "body") -> dict[str, Any] | None:
    """The user's authentication dict (``POST /userflavors`` body, ``authentication`` of a
    start), bounded in size: its values come from a login provider."""
    try:
        return check_authentication(auth)
    except AuthenticationError as e:
        raise BodyError(f"{loc}.{e.key}" if e.key else loc, e.msg) from e


def parse_start_body(body: Any) -> StartBody:
    if not isinstance(body, dict):
        raise BodyError("body", "must be a JSON object")
    name = check_name(body.get("name"))
    env = _dict(body, "env", required=True)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise BodyError("env", "must map strings to strings")
    for key in ("JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN"):
        if not env.get(key):
            raise BodyError(f"env.{key}", "field required")
    user_options = copy.deepcopy(_dict(body, "user_options"))
    start_id = str(user_options.pop("start_id", "0"))
    if not _START_ID.fullmatch(start_id):
        raise BodyError("user_options.start_id", "must be 1-64 letters, digits, '_' or '-'")
    flavor = body.get("flavor") or user_options.get("flavor") or ""
    if not isinstance(flavor, str):
        raise BodyError("flavor", "must be a string")
    auth = parse_authentication(body.get("authentication"), "authentication")
    for key in ("certs", "internal_trust_bundles"):
        _dict(body, key)
    return StartBody(name=name, start_id=start_id, env=env, user_options=user_options,
                     flavor=flavor, authentication=auth, misc=_dict(body, "misc"))
