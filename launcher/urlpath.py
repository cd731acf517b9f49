"""Where to land inside the started server: ``urlpath`` / ``labpath`` / ``filepath``.

Pure functions. BinderHub's precedence is ``labpath`` > ``filepath`` > ``urlpath``;
``labpath=f`` means ``urlpath=doc/tree/f`` and ``filepath=f`` means ``urlpath=tree/f``.
The result is always a path *relative to the server URL*, so a hostile value cannot
redirect elsewhere (open redirect) or run script: absolute URLs, scheme-relative
``//host``, any scheme (``javascript:``), backslashes, control characters and ``..``
segments are refused with :class:`UnsafePath`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlencode

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
MAX_LENGTH = 2048


class UnsafePath(ValueError):
    """The requested in-server path could leave the server; the message says why."""


def check_relative(path: str) -> str:
    """Return *path* without leading "/" if it stays inside the server, else raise."""
    if len(path) > MAX_LENGTH:
        raise UnsafePath(f"urlpath longer than {MAX_LENGTH} characters")
    decoded = unquote(unquote(path))
    for text in (path, decoded):
        if _CONTROL.search(text):
            raise UnsafePath("urlpath contains control characters")
        if "\\" in text:
            raise UnsafePath("urlpath contains a backslash")
        stripped = text.strip()
        if stripped.startswith(("//", "/\\")):
            raise UnsafePath("urlpath must be a path inside the server, not //host")
        if _SCHEME.match(stripped.lstrip("/")):
            raise UnsafePath("urlpath must be a path inside the server, not a URL with a scheme")
        segments = text.split("?", 1)[0].split("#", 1)[0].split("/")
        if any(seg in ("..", ".") for seg in segments):
            raise UnsafePath("urlpath must not contain '.' or '..' segments")
    return path.lstrip("/")


def _file_path(value: str) -> str:
    # encodeURI-like: keep "/" and common safe characters, encode the rest
    return quote(value.strip().rstrip("/").lstrip("/"), safe="/-_.~!$&'()*+,;=:@")


def resolve_urlpath(query: Mapping[str, str]) -> str:
    """The relative in-server path requested by *query* ("" if none), with precedence."""
    if query.get("labpath"):
        return check_relative("doc/tree/" + _file_path(query["labpath"]))
    if query.get("filepath"):
        return check_relative("tree/" + _file_path(query["filepath"]))
    if query.get("urlpath"):
        return check_relative(query["urlpath"])
    return ""


def final_url(server_url: str, urlpath: str = "", token: str = "") -> str:
    """``<server_url><urlpath>`` with ``token=<token>`` appended to its query."""
    base = server_url if server_url.endswith("/") else server_url + "/"
    url = base + check_relative(urlpath) if urlpath else base
    if not token:
        return url
    path, sep, fragment = url.partition("#")
    joiner = "&" if "?" in path else "?"
    return path + joiner + urlencode({"token": token}) + (sep + fragment)
