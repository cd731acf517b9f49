"""Relaunch by receipt: start the receipt's image by its digest; resolve and build nothing.

Named steps, each yielding events for the /v2/receipt/<id> page:

1. :func:`target_of` — the pinned target, rebuilt from the signed body (no resolver call);
2. :func:`find_image` — is the image still in the registry, by its digest? Spawners pull by
   tag (DockerSpawner splits references at their last ``:``), so when the content tag no
   longer names that digest the digest gets its own tag ``r-<hex>`` first;
3. the pipeline runs with the target (and, when found, the image) given. When the image is
   gone, the builder makes it again from the pinned ref (it may find the same content under
   its content alias) and the stream says whether the new digest is the receipt's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fdo.target import LaunchTarget
from launcher import events
from launcher.events import Event
from launcher.pipeline import ImageLookup, LaunchContext, LaunchRequest, Pipeline
from launcher.receipts.model import split_image


def target_of(body: dict[str, Any]) -> LaunchTarget:
    """The signed body's target (pure): the identifier and chain as the receipt has them."""
    t = dict(body.get("target") or {})
    files = [dict(f) for f in t.get("files") or []]
    return LaunchTarget.from_json({
        "identifier": body["identifier"], "kind": t["kind"], "provider": t["provider"],
        "source": t["source"], "ref": t["ref"], "launch_path": t["launch_path"],
        "files": files, "chain": list(body.get("chain") or []), "title": t.get("title") or "",
        "warnings": list(t.get("warnings") or []), "ref_url": t.get("ref_url") or "",
        "provenance": dict(t.get("provenance") or {}),
    })


def by_digest(name: str, digest: str, local: bool) -> str:
    """The reference that names exactly *digest*: ``repo@digest``, or the id locally."""
    if local:
        return digest
    repo = name.rpartition(":")[0] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{repo}@{digest}"


def pinned_tag(name: str, digest: str) -> str:
    """``repo:r-<hex40>``: a tag only this digest ever gets (for spawners that pull by tag)."""
    repo = name.rpartition(":")[0] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{repo}:r-{digest.removeprefix('sha256:')[:40]}"


async def find_image(store: ImageLookup, name: str, digest: str) -> str:
    """The reference to hand to the spawner for the receipt's image, "" when it is gone."""
    local = not store.host
    if await asyncio.to_thread(store.lookup, by_digest(name, digest, local)) is None:
        return ""
    if await asyncio.to_thread(store.lookup, name) == digest:
        return name if local else f"{name}@{digest}"
    tag = pinned_tag(name, digest)
    copy = getattr(store, "copy")  # noqa: B009 -- ImageStore.copy; not in the lookup protocol
    await asyncio.to_thread(copy, by_digest(name, digest, local), tag)
    return tag if local else f"{tag}@{digest}"


async def relaunch(pipeline: Pipeline, request: LaunchRequest, body: dict[str, Any]) -> AsyncIterator[Event]:
    """Events of relaunching the receipt *body*; the last is ``ready`` or ``failed``."""
    receipt_id = str(body["id"])
    target = target_of(body)
    name = str((body.get("image") or {}).get("name") or "")
    digest = str((body.get("image") or {}).get("digest") or "")
    ctx = LaunchContext(request, target=target)
    ctx.relaunch = {"of": receipt_id, "rebuilt": False, "digest_matches": True}
    yield events.event("waiting", f"Relaunching receipt {receipt_id}: {target.identifier} pinned to "
                                  f"{target.source} at {target.ref} (nothing is resolved)",
                       target=target.to_json())
    store = pipeline.builder.store if pipeline.builder is not None else None
    found = ""
    if store is not None and digest:
        try:
            found = await find_image(store, name, digest)
        except Exception as err:  # registry trouble: say so; a rebuild would not help
            yield events.failed(f"Could not look up the receipt's image {name}@{digest}: {err}", 502)
            return
    if found:
        ctx.image, ctx.image_digest = found, digest
        yield events.event("waiting", f"Image {digest} is in the registry: starting it, nothing is built")
    else:
        ctx.relaunch["rebuilt"] = True
        yield events.event("waiting", f"The receipt's image {name}@{digest} is gone from the registry; "
                                      f"rebuilding it from the pinned ref {target.ref}")
    async for ev in pipeline.run(request, ctx):
        yield ev
        if ev.get("phase") == "built" and ctx.relaunch["rebuilt"]:
            yield _compare(ctx, digest)


def _compare(ctx: LaunchContext, old: str) -> Event:
    assert ctx.relaunch is not None
    new = ctx.image_digest or split_image(ctx.image)[1]
    matches = bool(new) and new == old
    ctx.relaunch.update(digest_matches=matches, new_digest=new or None)
    how = "found again in the registry under its content tag" if ctx.image_cached else "rebuilt"
    if matches:
        message = f"The image was {how}: its digest {new} is the receipt's, bit for bit."
    else:
        message = (f"The image was {how}, but its digest differs from the receipt's: "
                   f"now {new or 'unknown'}, the receipt has {old}. The content (commit "
                   f"{ctx.target.ref if ctx.target else ''}) is the same; the image bytes are not.")
    return events.event("built", message, imageName=ctx.image, digest_matches=matches)
