"""The pipeline's ``ready`` hook: issue the receipt of a finished build or launch, link it.

The ``ready`` event gains ``receipt`` (the id) and ``receipt_url`` (the human page); the
API's job result and the /v2/ page show them. A receipt that cannot be written (the store
is down) is logged and the launch still succeeds: the user's server matters more.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from launcher import __version__
from launcher.events import Event
from launcher.pipeline import ImageLookup, LaunchContext
from launcher.receipts.book import Receipts
from launcher.receipts.model import BuildFacts, Facts, split_image

log = logging.getLogger("nfdi_launcher.receipts")


def facts_of(ctx: LaunchContext, issuer: str, image_digest: str) -> Facts:
    """What the receipt of *ctx* records (pure)."""
    assert ctx.target is not None
    request = ctx.request
    return Facts(
        kind="build" if request.build_only else "launch", target=ctx.target, image=ctx.image,
        image_digest=image_digest, build=BuildFacts.from_json(ctx.build),
        launcher_version=__version__, issuer=issuer, system=request.system,
        flavor=request.flavor, cached=ctx.image_cached, relaunch=ctx.relaunch)


class Stamper:
    """``Pipeline.ready_hooks`` entry: receipts for every ready event."""

    def __init__(self, receipts: Receipts, images: ImageLookup | None) -> None:
        self.receipts = receipts
        self.images = images

    async def digest_of(self, ctx: LaunchContext) -> str:
        digest = ctx.image_digest or split_image(ctx.image)[1]
        if digest or self.images is None:
            return digest
        try:  # the local engine's image id (no registry): one local call
            return await asyncio.to_thread(self.images.lookup, ctx.image) or ""
        except Exception:
            return ""

    async def __call__(self, ctx: LaunchContext, ev: Event) -> Event:
        if not self.receipts.enabled or ctx.target is None or not ctx.image:
            return ev
        issuer = self.receipts.public_url or ctx.request.launch_host
        try:
            facts = facts_of(ctx, issuer, await self.digest_of(ctx))
            doc = await self.receipts.issue(facts, ctx.request.user or str(ev.get("user") or ""),
                                            str(ev.get("server_name") or ""))
        except Exception:  # the launch succeeded; a missing receipt must not undo it
            log.exception("could not issue the receipt of %s", ctx.request.identifier)
            return ev
        receipt_id = doc["receipt"]["id"]
        extra: dict[str, Any] = {"receipt": receipt_id}
        if ctx.relaunch is not None:  # the loading page tells a changed digest before going on
            extra["relaunch"] = dict(ctx.relaunch)
        if issuer:
            extra["receipt_url"] = f"{issuer}receipt/{receipt_id}"
        return {**ev, **extra}
