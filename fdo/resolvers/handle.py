"""Handle PIDs and FAIR Digital Objects: typed locations in a fixed order, checksum carried."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fdo.errors import NotFound, UnsupportedIdentifier, UpstreamError
from fdo.identifiers import Identifier
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry

HANDLE_API = "https://hdl.handle.net/api/handles"
KIP = "21.T11148/076759916209e5d62bd5"
DIGITAL_OBJECT_LOCATION = "21.T11148/b8457812905b83046284"
CHECKSUM_TYPES = ("21.T11148/92e200311a56800b3e47", "21.T11148/82e2503c49209e987740")
_HEX_ALGO = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}


@dataclass(frozen=True)
class Location:
    url: str
    type: str
    index: int
    timestamp: str


def _value(v: dict[str, Any]) -> str:
    data = as_dict(v.get("data"))
    value = data.get("value")
    return value if isinstance(value, str) else ""


def locations(values: list[dict[str, Any]]) -> list[Location]:
    """digitalObjectLocation by index, then URL by index, then 10320/LOC by weight."""
    by_index = sorted(values, key=lambda v: int(v.get("index", 0)))
    out = [
        Location(_value(v), str(v["type"]), int(v.get("index", 0)), str(v.get("timestamp", "")))
        for t in (DIGITAL_OBJECT_LOCATION, "URL")
        for v in by_index
        if v.get("type") == t and _value(v)
    ]
    for v in by_index:
        if v.get("type") == "10320/LOC":
            for href, _weight in _loc_entries(_value(v)):
                out.append(Location(href, "10320/LOC", int(v.get("index", 0)), str(v.get("timestamp", ""))))
    return out


def _loc_entries(xml_text: str) -> list[tuple[str, float]]:
    try:
        root = ET.fromstring(xml_text.strip())  # noqa: S314 - tiny record value, no entities
    except ET.ParseError:
        return []
    entries = []
    for i, loc in enumerate(root.iter("location")):
        href = (loc.get("href") or "").strip()
        try:
            weight = float(loc.get("weight", "1"))
        except ValueError:
            weight = 0.0
        if href:
            entries.append((href, weight, i))
    entries.sort(key=lambda e: (-e[1], e[2]))
    return [(h, w) for h, w, _ in entries]


def checksum_of(values: list[dict[str, Any]]) -> str | None:
    """``"<algo>:<hex>"`` from a checksum attribute (plain hex, ``algo:hex`` or JSON)."""
    for v in values:
        if v.get("type") not in CHECKSUM_TYPES:
            continue
        text = _value(v).strip()
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            for key, val in obj.items():
                algo = re.sub(r"(sum|hash)$", "", str(key).lower()).replace("-", "")
                if isinstance(val, str) and re.fullmatch(r"[0-9a-fA-F]+", val):
                    return f"{algo}:{val.lower()}"
        m = re.fullmatch(r"(?:(md5|sha1|sha256|sha512)[:=])?([0-9a-fA-F]+)", text, re.IGNORECASE)
        if m:
            algo = (m.group(1) or _HEX_ALGO.get(len(m.group(2)), "")).lower()
            if algo:
                return f"{algo}:{m.group(2).lower()}"
    return None


class HandleResolver(Resolver):
    """``hdl.handle.net/api/handles/<pid>`` -> the digital object's location (one hop)."""

    name = "handle"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "handle"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        pid = ident.get("pid")
        resp = ctx.http.get(f"{HANDLE_API}/{pid}", headers={"Accept": "application/json"}, ok_statuses=(200, 404))
        try:
            record = as_dict(json.loads(resp.body))
        except ValueError:
            record = {}
        code = record.get("responseCode")
        if resp.status == 404 or code == 100:
            raise NotFound(f"Handle {pid} does not exist (responseCode 100); check the PID")
        if code == 200:
            raise NotFound(f"Handle {pid} exists but has no values; nothing to launch")
        if code != 1:
            raise UpstreamError(f"the Handle server answered responseCode {code} for {pid}; try again later")
        values = [as_dict(v) for v in as_list(record.get("values"))]
        values = [v for v in values if not str(v.get("type", "")).upper().startswith("HS_")]
        is_fdo = any(v.get("type") == KIP for v in values)
        locs = locations(values)
        if not locs:
            raise UnsupportedIdentifier(f"Handle {pid} has no location (URL or digitalObjectLocation); nothing to launch")
        first = locs[0]
        if len({loc.url for loc in locs}) > 1:
            ctx.warn(f"Handle {pid} lists {len(locs)} locations; used {first.type} at index {first.index}")
        ctx.mutable = True  # Handle records can be edited
        ctx.provenance.update(
            {"handle": pid, "handle_index": str(first.index), "handle_timestamp": first.timestamp}
        )
        if is_fdo:
            ctx.provenance["fdo_profile"] = next(_value(v) for v in values if v.get("type") == KIP)
        checksum = checksum_of(values)
        if checksum:
            ctx.provenance["checksum"] = checksum
        nxt = ctx.location(first.url)
        if nxt.kind != "url":
            return nxt
        if not is_fdo:
            raise UnsupportedIdentifier(
                f"Handle {pid} points at a web page ({first.url}), not at code or data; "
                "paste the repository URL or DOI instead"
            )
        name = urlsplit(first.url).path.rsplit("/", 1)[-1] or "object"
        return archive_target(
            ident, provider="hdl", source=first.url, ref=f"{pid}@{checksum or first.timestamp}",
            launch_spec=pid, files=(FileEntry(name=name, url=first.url, checksum=checksum),),
            title=pid,
        )
