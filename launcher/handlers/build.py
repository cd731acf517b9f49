"""``GET /build/<provider>/<spec>``: the BinderHub event stream (build + launch).

Request errors (wrong Accept header, bad build token, rate limit, banned spec, unknown
system) are ``failed`` events with ``status_code`` on an HTTP-200 stream, like
BinderHub; nothing here ever sends a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado.iostream import StreamClosedError

from launcher import events, failures
from launcher.admission import Ask, run_with_quotas
from launcher.handlers.base import BaseHandler, UserError
from launcher.pipeline import LaunchRequest

log = logging.getLogger("nfdi_launcher.build")



class EventStreamHandler(BaseHandler):
    """Writes events, with keepalive comments while idle; the stream ends with the last event
    (``ready`` or ``failed``) on every path, as BinderHub's does on a cache hit."""

    _closed: asyncio.Event | None = None

    def closed_event(self) -> asyncio.Event:
        if self._closed is None:
            self._closed = asyncio.Event()
        return self._closed

    def on_connection_close(self) -> None:
        self.closed_event().set()

    def redirect(self, *args: Any, **kwargs: Any) -> None:
        raise UserError(403, "Authentication required")  # no login redirects on a stream

    async def emit(self, data: events.Event) -> None:
        if self.closed_event().is_set():
            raise StreamClosedError()
        self.write(events.encode(data))
        await self.flush()

    async def keepalive(self) -> None:
        interval = self.launcher.keepalive_interval
        closed = self.closed_event()
        while not closed.is_set():
            try:
                await asyncio.wait_for(closed.wait(), interval)
            except TimeoutError:
                self.write(events.KEEPALIVE)
                await self.flush()

    def start_stream(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")


class BuildHandler(EventStreamHandler):
    async def get(self, *_args: str) -> None:
        self.start_stream()
        try:
            request = await self.admit(self.build_ask())
        except UserError as err:
            await self.emit(self.refusal(err))
            return
        keepalive = asyncio.ensure_future(self.keepalive())
        try:
            await self.stream(request)
        except StreamClosedError:
            log.info("client closed the stream for %s", request.identifier)
        finally:
            keepalive.cancel()

    def refusal(self, err: UserError) -> events.Event:
        """The one ``failed`` event of a refused request (logged under its request id)."""
        failure = err.failure()
        request_id = failures.new_request_id()
        failures.log_failure(failure, request_id, f"GET {self.request.path}", "admission")
        return failures.failed_event(failure, request_id)

    async def stream(self, request: LaunchRequest) -> None:
        async for ev in run_with_quotas(self.state.admission, self.state.pipeline, request):
            await self.emit(ev)

    def build_ask(self) -> Ask:
        """What this stream asks admission for (the URL, its query, its build token)."""
        if "text/event-stream" not in self.request.headers.get("Accept", ""):
            raise UserError(400, "Accept header must be text/event-stream")
        provider, spec = self.get_spec_from_request("build")
        return self.ask(
            "build", provider=provider, spec=spec,
            build_only=self.get_argument("build_only", "false").lower() == "true",
            system=self.get_argument("system", ""), flavor=self.get_argument("flavor", ""),
            project=self.get_argument("project", ""), account=self.get_argument("account", ""),
            storage_path=self.get_argument("localstoragepath", None) or self.get_argument("dataDir", ""),
            name=self.get_argument("name", ""), build_token=self.get_argument("build_token", ""))


default_handlers = [
    (r"build/([^/]+)/(.+)", BuildHandler),
]
