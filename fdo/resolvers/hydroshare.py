"""HydroShare resources: mutable; pinned to the "modified" date, content is the BagIt zip."""

from __future__ import annotations

import logging
import re

from fdo.errors import FetchError, MalformedIdentifier
from fdo.identifiers import Classifier, Identifier, WebUrl, malformed
from fdo.net.http import REDIRECT_STATUSES, HttpClient, HttpResponse
from fdo.net.policy import redact_url
from fdo.net.poll import PollLimits, poll_until
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry, LaunchTarget

log = logging.getLogger("fdo.fetch")

HYDROSHARE = "https://www.hydroshare.org"
_ID = re.compile(r"[0-9a-f]{32}")
#: content types of "not ready yet" pages served with HTTP 200
_WAIT_PAGE_TYPES = ("text/html", "application/json", "text/plain")


def hydroshare_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
    """``hydroshare/<resource id>`` (a trailing path is BinderHub's ``/resource/<id>`` form)."""
    rid = rest.strip("/").split("/")[-1]
    if not _ID.fullmatch(rid):
        raise malformed("HydroShare id must be 32 hex digits", "write hydroshare/<resource id>")
    return Identifier("hydroshare", f"hydroshare:{rid}", {"id": rid}, raw)


def hydroshare_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    """``https://www.hydroshare.org/resource/<id>/``."""
    segs = url.segments
    if url.host not in hosts or len(segs) < 2 or segs[0] != "resource":
        return None
    if not _ID.fullmatch(segs[1]):
        raise malformed("HydroShare resource id must be 32 hex digits", "paste the resource URL")
    return Identifier("hydroshare", f"hydroshare:{segs[1]}", {"id": segs[1]}, raw)


class HydroshareResolver(Resolver):
    name = "hydroshare"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "hydroshare" or (ident.kind == "doi" and ident.get("prefix") == "10.4211")

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        rid = ident.get("id") or ident.get("suffix").removeprefix("hs.")
        if not re.fullmatch(r"[0-9a-f]{32}", rid):
            raise MalformedIdentifier(
                f"'{rid[:60]}' is not a HydroShare resource id (32 hex digits); check the DOI"
            )
        meta = as_dict(ctx.http.get_json(f"{HYDROSHARE}/hsapi/resource/{rid}/scimeta/elements"))
        modified = ""
        for date in as_list(meta.get("dates")):
            date = as_dict(date)
            if date.get("type") == "modified":
                modified = str(date.get("start_date", ""))
        ctx.mutable = True
        ctx.warn(
            f"HydroShare resource {rid} can change; pinned to its modification date {modified or 'unknown'}"
        )
        bag = FileEntry(name=f"{rid}.zip", url=f"{HYDROSHARE}/django_s3/download/bags/{rid}.zip")
        return archive_target(
            ident,
            provider="hydroshare",
            source=f"{HYDROSHARE}/resource/{rid}/",
            ref=f"{rid}@{modified}",
            launch_spec=rid,
            files=(bag,),
            title=str(meta.get("title", "")),
            ref_url=f"{HYDROSHARE}/resource/{rid}/",
        ).with_(provenance={"modified": modified, "layout": "bagit"})


def prepare_bag(target: LaunchTarget, http: HttpClient, limits: PollLimits) -> LaunchTarget:
    """At fetch time: HydroShare zips a resource's bag on request. Poll its URL (without
    downloading) until it redirects to the bag or answers 200 with the zip; ``202`` or a
    200 HTML/JSON "being prepared" page means "ask again"."""
    for entry in target.files:
        _wait_for_bag(entry.url, http, limits)
    return target


def _wait_for_bag(url: str, http: HttpClient, limits: PollLimits) -> None:
    shown = redact_url(url)

    def ready() -> HttpResponse | None:
        resp = http.peek(url)
        ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if resp.status in REDIRECT_STATUSES or (resp.status == 200 and ctype not in _WAIT_PAGE_TYPES):
            return resp
        if resp.status in (200, 202):
            log.info("HydroShare is preparing %s", shown)
            return None
        raise FetchError(f"HydroShare answered HTTP {resp.status} for {shown}; try again later")

    if poll_until(ready, limits) is None:
        raise FetchError(
            f"HydroShare is still preparing {shown} after {limits.describe()}; try again later"
        )
