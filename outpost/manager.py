"""Orchestration: the steps behind each REST call (flavor check → mapping → backend)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import time
from collections.abc import Coroutine
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import Bool, Float, List, Type, Unicode
from traitlets.config import LoggingConfigurable

from outpost import flavors as fl
from outpost.backends.base import Backend, Progress, StartRequest
from outpost.body import StartBody
from outpost.credentials import load_credentials
from outpost.mapping import map_user_options
from outpost.readiness import NotReady, ReadinessProbe, service_prefix
from outpost.store import Record, Store

log = logging.getLogger("nfdi_launcher.outpost")


#: how many of the server's last log lines a failed start reports to the hub
LOG_LINES = 12
_TOKEN_RE = re.compile(r"(token=)[^&\s]+", re.IGNORECASE)


class NotFound(Exception):
    """No such service for this hub."""


class ServiceExists(fl.FlavorError):
    """A start of a (name, start id) that runs already."""

    reason = "service_exists"


class StartTimeout(NotReady):
    """The start (with the wait for the server to answer) took longer than allowed."""


def _scrub(lines: list[str]) -> list[str]:
    return [_TOKEN_RE.sub(r"\1[secret]", line) for line in lines]


class Outpost(LoggingConfigurable):
    """State and behaviour shared by all handlers (one per process), and the settings of
    what it checks and starts (``c.Outpost.*``)."""

    flavors_path = Unicode(
        "",
        help="""Path of flavors.yaml (keys flavors, hubs, users). Re-read on every request,
        so edits apply without a restart. Empty or missing: no flavor rules, every start
        is accepted.""",
    ).tag(config=True)

    access_help = Unicode(
        "",
        help="""Added to refusals that come from a user's rights (``users:`` rules of
        flavors.yaml), so the person knows whom to ask, e.g. "Ask support@example.org for
        GPU access." Plain text.""",
    ).tag(config=True)

    db_path = Unicode(
        "outpost.sqlite",
        help="""SQLite file holding the started services and their spawner state, so
        that a restarted Outpost still polls and stops them. Created with mode 0600;
        tokens are never stored.""",
    ).tag(config=True)

    credentials_file = Unicode(
        "",
        help="""YAML/JSON file mapping hub name -> password for HTTP Basic auth (the
        user name is the hub's identity). Also read: the environment variable
        OUTPOST_CREDENTIALS (same JSON) and upstream's ``usernames``/``passwords``
        (semicolon-separated, matched by position). Passwords are never logged.""",
    ).tag(config=True)

    allowed_image_prefixes = List(
        Unicode(),
        ["127.0.0.1:*/", "localhost:*/", "local/"],
        help="""Image reference prefixes a user may start (``*`` = any characters except
        '/'). Everything else is refused with 419 before a container is created.""",
    ).tag(config=True)

    default_image = Unicode(
        "",
        help="Image to start when user_options name none (empty: an image is required).",
    ).tag(config=True)

    name_prefix = Unicode(
        "nfdi-outpost-",
        help="Prefix of container and volume names, so that they are easy to find and clean.",
    ).tag(config=True)

    backend_class = Type(
        "outpost.backends.docker.DockerBackend",
        klass="outpost.backends.base.Backend",
        help="""The backend that wraps a JupyterHub spawner (default: DockerSpawner); it is
        configured under its own class name, e.g. ``c.DockerBackend.pull_policy``.""",
    ).tag(config=True)

    send_events = Bool(
        True,
        help="POST spawn progress to the hub's JUPYTERHUB_EVENTS_URL with the server's token.",
    ).tag(config=True)

    event_timeout = Float(5.0, help="Seconds one progress POST to the hub may take.").tag(
        config=True)

    ready_check_interval = Float(
        0.05,
        help="""Seconds between checks that a starting server answers at the URL the hub will
        check; the start is answered right after the first success. Each check is one
        HTTP request over the path the hub uses (usually loopback or the cluster network).""",
    ).tag(config=True)

    exit_check_interval = Float(
        0.5,
        help="""Seconds between asking the backend, while waiting for a server to answer,
        whether it has exited (then the start fails at once with its last log lines).""",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = Store(self.db_path)
        self.backend: Backend = self.backend_class(parent=self)
        self.credentials = load_credentials(self.credentials_file)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.probe = ReadinessProbe(self.ready_check_interval, self.exit_check_interval)

    # -- flavors -------------------------------------------------------------------
    def flavor_config(self) -> fl.FlavorConfig:
        return fl.load_flavors(self.flavors_path)

    def flavors(self, hub: str, auth: dict[str, Any] | None = None) -> dict[str, Any]:
        result = fl.sorted_flavors(fl.flavors_for(self.flavor_config(), hub, auth))
        for name, flavor in result.items():
            # this hub's servers only: hubs never learn about each other (issue 10)
            flavor["current"] = self.store.count(name, hub=hub)
            flavor.setdefault("max", -1)
            flavor.setdefault("weight", 0)
            flavor.setdefault("display_name", name)
        return result

    # -- start ---------------------------------------------------------------------
    def reserve(self, hub: str, body: StartBody) -> tuple[Record, StartRequest]:
        """Check flavor and options and record the start (no await: no race on limits)."""
        existing = self.store.get(hub, body.name, body.start_id)
        if existing is not None:
            raise ServiceExists(f"Service {body.name} (start id {body.start_id}) "
                                "already exists; stop it first")
        user_id = body.env.get("JUPYTERHUB_USER_ID") or body.env["JUPYTERHUB_USER"]
        flavor = fl.check_start(
            self.flavor_config(), hub, body.flavor, body.authentication,
            running_global=self.store.count(body.flavor),
            running_user=self.store.count(body.flavor, hub=hub, user_id=user_id),
            access_help=self.access_help)
        settings = map_user_options(
            body.user_options, flavor, hub=hub, user_id=user_id, server_name=body.name,
            start_id=body.start_id, default_image=self.default_image,
            allowed_prefixes=list(self.allowed_image_prefixes), prefix=self.name_prefix)
        runtime = fl.runtime_of(flavor)
        start_timeout = flavor.get("start_timeout")
        rec = Record(hub=hub, name=body.name, start_id=body.start_id, user_id=user_id,
                     user_name=body.env["JUPYTERHUB_USER"], flavor=body.flavor,
                     env=body.env, settings=dataclasses.asdict(settings))
        if runtime is not None:
            rec.end_date = rec.start_date + runtime.total_seconds()
        self.store.put(rec)
        return rec, StartRequest(record=rec, settings=settings, env=body.env,
                                 user_options=body.user_options,
                                 start_timeout=float(start_timeout) if start_timeout else None,
                                 flavor=flavor,
                                 checkpoint=lambda: self.store.put(rec))

    async def run_start(self, request: StartRequest, report_failure: bool = False) -> str:
        """Start through the backend and wait until the server answers (see
        :mod:`outpost.backends.base`); on failure stop it, forget the record and raise.

        With *report_failure* (async starts: nobody waits for our answer) the failure is
        also sent to the hub as a ``failed`` event. A sync start must not do that: the
        hub would cancel the spawn while our 419 answer is on its way."""
        rec = request.record
        env = request.env

        async def progress(percent: int, message: str) -> None:
            # Not awaited: a slow hub must not slow the start down.
            self.background(self.send_event(env, {"progress": percent, "failed": False,
                                                  "message": message, "html_message": message}))

        timeout = request.start_timeout or self.backend.start_timeout
        try:
            try:
                async with asyncio.timeout(timeout):
                    service = await self.backend.start(request, progress)
                    await self.wait_ready(rec, service, progress)
            except TimeoutError as e:
                raise StartTimeout(f"The server did not answer within {timeout:g} s "
                                   f"(start timeout of flavor {rec.flavor or 'default'})") from e
        except BaseException as e:
            await self._abandon(rec)
            if report_failure:
                await self.send_event(env, {"progress": 100, "failed": True,
                                            "message": f"Outpost: start failed: {e}",
                                            "html_message": f"Outpost: start failed: {e}"})
            raise
        rec.service, rec.start_pending = service, False
        self.store.put(rec)
        log.info("started %s/%s (%s) at %s", rec.hub, rec.name, rec.start_id, service)
        return service

    async def wait_ready(self, rec: Record, service: str, progress: Progress) -> None:
        """Poll the server's health URL until it answers as the hub expects."""
        url = self.backend.health_url(rec, service)
        if url is None:
            return
        started = time.monotonic()

        async def exited() -> int | None:
            return await self.backend.poll(rec)

        try:  # bounded by the caller's timeout
            probes = await self.probe.wait(url, exited)
        except NotReady as e:
            tail = _scrub(await self.backend.logs(rec))[-LOG_LINES:]
            raise NotReady(f"{e}; its last log lines:\n" + "\n".join(tail) if tail
                           else str(e)) from e
        log.info("%s/%s answered at %s after %.2f s (%d probes)", rec.hub, rec.name, url,
                 time.monotonic() - started, probes)
        await progress(90, f"Outpost: server listening at {service_prefix(rec.env)}")

    async def _abandon(self, rec: Record) -> None:
        """Stop what a failed start left running (a backend cleans up its own failed
        start; a server that started but never answered is ours to stop) and forget it."""
        try:
            if rec.state:
                with contextlib.suppress(Exception):  # the start error is the one to report
                    await self.backend.stop(rec)
        finally:
            self.store.delete(rec.hub, rec.name, rec.start_id)

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
        if not (self.send_events and url and token):
            return
        req = HTTPRequest(url, method="POST", body=json.dumps(event),
                          headers={"Authorization": f"token {token}",
                                   "Content-Type": "application/json"},
                          request_timeout=self.event_timeout)
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
