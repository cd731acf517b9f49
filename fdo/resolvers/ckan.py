"""CKAN datasets: a snapshot by activity id when given, else the current package."""

from __future__ import annotations

from urllib.parse import quote

from fdo.errors import NotFound
from fdo.identifiers import Identifier
from fdo.net import HttpNotFound
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry


class CkanResolver(Resolver):
    name = "ckan"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "ckan"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        base, dataset, activity = ident.get("base"), ident.get("dataset"), ident.get("activity_id")
        api = f"{base}/api/3/action"
        if activity:
            url = f"{api}/activity_data_show?id={quote(activity)}&object_type=package"
        else:
            url = f"{api}/package_show?id={quote(dataset)}"
        try:
            answer = as_dict(ctx.http.get_json(url))
        except HttpNotFound as err:
            raise NotFound(f"CKAN dataset {dataset} not found on {base}; check the URL") from err
        result = as_dict(answer.get("result"))
        if not answer.get("success") or not result:
            raise NotFound(f"CKAN dataset {dataset} not found on {base}; check the URL")
        version = activity or str(result.get("metadata_modified", ""))
        if not activity:
            ctx.mutable = True
            ctx.warn(f"CKAN dataset {dataset} given without an activity id; pinned to {version}")
        files = tuple(
            FileEntry(
                name=str(r.get("name") or r["url"].rsplit("/", 1)[-1]),
                url=str(r["url"]),
                size=r.get("size") if isinstance(r.get("size"), int) else None,
            )
            for r in (as_dict(x) for x in as_list(result.get("resources")))
            if r.get("url")
        )
        if not files:
            raise NotFound(f"CKAN dataset {dataset} has no resources; nothing to launch")
        pinned = f"{base}/dataset/{dataset}" + (f"?activity_id={activity}" if activity else "")
        return archive_target(
            ident,
            provider="ckan",
            source=f"{base}/dataset/{dataset}",
            ref=f"{dataset}@{version}",
            launch_spec=quote(pinned, safe=""),
            files=files,
            title=str(result.get("title", "")),
            ref_url=pinned,
        ).with_(provenance={"activity_id": activity, "metadata_modified": str(result.get("metadata_modified", ""))})
