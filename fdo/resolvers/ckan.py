"""CKAN datasets: a snapshot by activity id when given, else the current package."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fdo.errors import NotFound
from fdo.identifiers import Classifier, Identifier, WebUrl, malformed
from fdo.net import HttpNotFound
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, archive_target, as_dict, as_list
from fdo.target import FileEntry


def ckan_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
    """``ckan/<URL-encoded dataset URL, optionally with ?activity_id=...>``."""
    return ckan_url(unquote(rest), raw)


def ckan_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    if url.host not in hosts or "dataset" not in url.segments:
        return None
    return ckan_url(url.text, raw)


def ckan_url(text: str, raw: str) -> Identifier:
    """``<base>/dataset/<name>[/history/<activity>|?activity_id=<activity>]``."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise malformed("CKAN spec is not an http(s) URL", "URL-encode the dataset URL")
    segs = [s for s in parts.path.split("/") if s]
    if "dataset" not in segs or segs.index("dataset") + 1 >= len(segs):
        raise malformed("CKAN URL has no /dataset/<name>", "paste the dataset page URL")
    cut = segs.index("dataset")
    dataset = segs[cut + 1]
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", dataset):
        raise malformed("CKAN dataset name is not valid", "paste the dataset page URL")
    activity = (parse_qs(parts.query).get("activity_id") or [""])[0]
    if len(segs) > cut + 3 and segs[cut + 2] == "history":
        activity = segs[cut + 3]
    if activity and not re.fullmatch(r"[0-9a-f-]{8,64}", activity):
        raise malformed("CKAN activity id is not valid", "copy the activity link again")
    base = f"{parts.scheme}://{parts.netloc}" + ("/" + "/".join(segs[:cut]) if cut else "")
    out = {"base": base, "dataset": dataset, "url": f"{base}/dataset/{dataset}"}
    if activity:
        out["activity_id"] = activity
    norm = f"ckan:{base}/dataset/{dataset}" + (f"@{activity}" if activity else "")
    return Identifier("ckan", norm, out, raw)


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
