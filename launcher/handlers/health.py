"""``/health`` (GET, HEAD): registry and JupyterHub checks; 503 when one fails."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from launcher.handlers.base import BaseHandler
from launcher.pipeline import Builder

CACHE_SECONDS = 5.0


async def registry_check(builder: Builder | None) -> dict[str, Any]:
    if builder is None:
        return {"service": "Docker registry", "ok": False, "message": "no builder configured"}
    store = builder.store
    try:
        await asyncio.wait_for(asyncio.to_thread(store.lookup, store.host + ("/" if store.host else "")
                                                 + "nfdi-launcher-health-check:12345"), 5)
        return {"service": "Docker registry", "ok": True}
    except Exception as err:
        return {"service": "Docker registry", "ok": False, "message": str(err)[:200]}


class HealthHandler(BaseHandler):
    async def check(self) -> dict[str, Any]:
        # kept per application: two launchers in one process check their own hub/registry
        cached = self.state.health
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        pipeline = self.state.pipeline
        checks = list(await asyncio.gather(registry_check(pipeline.builder), pipeline.handoff.health()))
        result = {"ok": all(c["ok"] for c in checks), "checks": checks}
        self.state.health = (time.monotonic(), result)
        return result

    async def get(self) -> None:
        result = await self.check()
        self.write_json(result, 200 if result["ok"] else 503)

    async def head(self) -> None:
        result = await self.check()
        self.set_status(200 if result["ok"] else 503)
        self.finish()


default_handlers = [(r"health", HealthHandler)]
