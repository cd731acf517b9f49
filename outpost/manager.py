"""Orchestration: the steps behind each REST call (flavor check → mapping → backend)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from outpost import flavors as fl
from outpost.backends.base import Backend, StartRequest
from outpost.body import StartBody
from outpost.config import OutpostConfig
from outpost.mapping import map_user_options
from outpost.store import Record, Store

log = logging.getLogger("nfdi_launcher.outpost")


class NotFound(Exception):
    """No such service for this hub."""


class Outpost:
    """State and behaviour shared by all handlers (one per process)."""

    def __init__(self, config: OutpostConfig, store: Store, backend: Backend) -> None:
        self.config = config
        self.store = store
        self.backend = backend
        self.credentials = config.load_credentials()
        self.tasks: set[asyncio.Task[Any]] = set()

    # -- flavors -------------------------------------------------------------------
    def flavor_config(self) -> fl.FlavorConfig:
        return fl.load_flavors(self.config.flavors_path)

    def flavors(self, hub: str, auth: dict[str, Any] | None = None) -> dict[str, Any]:
        result = fl.sorted_flavors(fl.flavors_for(self.flavor_config(), hub, auth))
        for name, flavor in result.items():
            flavor["current"] = self.store.count(name)
            flavor.setdefault("max", -1)
            flavor.setdefault("weight", 0)
            flavor.setdefault("display_name", name)
        return result

    # -- start ---------------------------------------------------------------------
    def reserve(self, hub: str, body: StartBody) -> tuple[Record, StartRequest]:
        """Check flavor and options and record the start (no await: no race on limits)."""
        existing = self.store.get(hub, body.name, body.start_id)
        if existing is not None:
            raise fl.FlavorError(f"Service {body.name} (start id {body.start_id}) "
                                 "already exists; stop it first")
        user_id = body.env.get("JUPYTERHUB_USER_ID") or body.env["JUPYTERHUB_USER"]
        flavor = fl.check_start(
            self.flavor_config(), hub, body.flavor, body.authentication,
            running_global=self.store.count(body.flavor),
            running_user=self.store.count(body.flavor, hub=hub, user_id=user_id))
        settings = map_user_options(
            body.user_options, flavor, hub=hub, user_id=user_id, server_name=body.name,
            start_id=body.start_id, default_image=self.config.default_image,
            allowed_prefixes=list(self.config.allowed_image_prefixes),
            prefix=self.config.name_prefix)
        runtime = fl.runtime_of(flavor)
        rec = Record(hub=hub, name=body.name, start_id=body.start_id, user_id=user_id,
                     user_name=body.env["JUPYTERHUB_USER"], flavor=body.flavor,
                     env=body.env, settings=dataclasses.asdict(settings))
        if runtime is not None:
            rec.end_date = rec.start_date + runtime.total_seconds()
        self.store.put(rec)
        return rec, StartRequest(record=rec, settings=settings, env=body.env,
                                 user_options=body.user_options)

    async def run_start(self, request: StartRequest, report_failure: bool = False) -> str:
        """Start through the backend; on failure forget the record and re-raise.

        With *report_failure* (async starts: nobody waits for our answer) the failure is
        also sent to the hub as a ``failed`` event. A sync start must not do that: the
        hub would cancel the spawn while our 419 answer is on its way."""
        rec = request.record
        env = request.env

        async def progress(percent: int, message: str) -> None:
            # Not awaited: a slow hub must not slow the start down.
            self.background(self.send_event(env, {"progress": percent, "failed": False,
                                                  "message": message, "html_message": message}))

        try:
            service = await self.backend.start(request, progress)
        except BaseException as e:
            self.store.delete(rec.hub, rec.name, rec.start_id)
            if report_failure:
                await self.send_event(env, {"progress": 100, "failed": True,
                                            "message": f"Outpost: start failed: {e}",
                                            "html_message": f"Outpost: start failed: {e}"})
            raise
        rec.service, rec.start_pending = service, False
        self.store.put(rec)
        log.info("started %s/%s (%s) at %s", rec.hub, rec.name, rec.start_id, service)
        return service

    def background(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run *coro* as a task that is kept referenced until it is done."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def start_background(self, request: StartRequest) -> None:
        task = self.background(self.run_start(request, report_failure=True))

        def log_failure(t: asyncio.Task[Any]) -> None:
            if not t.cancelled() and t.exception() is not None:
                log.warning("async start of %s failed: %s", request.record.name, t.exception())

        task.add_done_callback(log_failure)

    async def send_event(self, env: dict[str, str], event: dict[str, Any]) -> None:
        url, token = env.get("JUPYTERHUB_EVENTS_URL"), env.get("JUPYTERHUB_API_TOKEN")
        if not (self.config.send_events and url and token):
            return
        req = HTTPRequest(url, method="POST", body=json.dumps(event),
                          headers={"Authorization": f"token {token}",
                                   "Content-Type": "application/json"},
                          request_timeout=self.config.event_timeout)
        try:
            await AsyncHTTPClient().fetch(req, raise_error=False)
        except Exception as e:  # progress is best effort; the start goes on
            log.debug("could not send a progress event: %s", type(e).__name__)

    # -- poll / stop ---------------------------------------------------------------
    def find(self, hub: str, name: str, start_id: str | None) -> Record:
        rec = (self.store.get(hub, name, start_id) if start_id is not None
               else self.store.latest(hub, name))
        if rec is None:
            raise NotFound(f"No service {name} for this hub")
        return rec

    async def poll(self, hub: str, name: str, start_id: str | None,
                   collect_logs: bool) -> dict[str, Any]:
        rec = self.find(hub, name, start_id)
        if rec.start_pending:
            return {"status": None, "logs": []}
        status = await self.backend.poll(rec)
        logs = await self.backend.logs(rec) if collect_logs else []
        return {"status": status, "logs": logs}

    async def stop(self, hub: str, name: str, start_id: str | None,
                   collect_logs: bool) -> list[str]:
        rec = self.find(hub, name, start_id)
        rec.stop_pending = True
        self.store.put(rec)
        logs = await self.backend.logs(rec) if collect_logs else []
        try:
            await self.backend.stop(rec)
        except BaseException:
            rec.stop_pending = False  # let the hub (or the expiry loop) try again
            self.store.put(rec)
            raise
        self.store.delete(rec.hub, rec.name, rec.start_id)
        log.info("stopped %s/%s (%s)", rec.hub, rec.name, rec.start_id)
        return logs

    def stop_background(self, hub: str, name: str, start_id: str | None) -> None:
        self.find(hub, name, start_id)  # 404 now rather than in the background
        self.background(self.stop(hub, name, start_id, False))

    async def stop_expired(self) -> int:
        """Stop servers whose flavor runtime is over; returns how many."""
        stopped = 0
        for rec in self.store.expired(time.time()):
            try:
                await self.stop(rec.hub, rec.name, rec.start_id, False)
                stopped += 1
            except Exception as e:
                log.warning("could not stop expired %s/%s: %s", rec.hub, rec.name, e)
        return stopped
