"""Launch events in BinderHub's ``binderhub.jupyter.org/launch`` v6 schema (one JSON log line).

mybinder.org publishes these daily; emitting the same shape keeps the public analytics
tooling usable. Only successful launches are recorded, as upstream.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fdo.providers import display_name
from launcher.pipeline import LaunchContext

log = logging.getLogger("nfdi_launcher.launch_events")

SCHEMA = "binderhub.jupyter.org/launch"
VERSION = 6


def launch_event(ctx: LaunchContext) -> dict[str, Any] | None:
    """The event for a finished run, or None (failed, build-only)."""
    req = ctx.request
    if req.build_only or "ready" not in ctx.timings or ctx.target is None:
        return None
    return {
        "schema": SCHEMA, "version": VERSION,
        "timestamp": datetime.now(UTC).isoformat(),
        "provider": display_name(req.provider),
        "spec": req.spec,
        "ref": ctx.target.ref,
        "status": "success",
        "build_token": req.build_token,
        "origin": req.origin,
        "request_origin": req.request_origin,
    }


def observer(ctx: LaunchContext) -> None:
    event = launch_event(ctx)
    if event is not None:
        log.info("%s", json.dumps(event))
