"""HydroShare resources: mutable; pinned to the "modified" date, content is the BagIt zip."""

from __future__ import annotations

import re

from fdo.errors import MalformedIdentifier
from fdo.identifiers import Identifier
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry

HYDROSHARE = "https://www.hydroshare.org"


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
