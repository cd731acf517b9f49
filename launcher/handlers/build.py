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

from fdo.providers import SPEC_PROVIDERS
from launcher import buildtoken, events
from launcher.admission import AdmissionError, run_with_quotas
from launcher.handlers.base import BaseHandler, UserError
from launcher.pipeline import LaunchRequest
from launcher.systems import pick_resource

log = logging.getLogger("nfdi_launcher.build")



class EventStreamHandler(BaseHandler):
    """Writes events; keepalive comments while idle; lingers after the end."""

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

    async def linger(self) -> None:
        try:
            await asyncio.wait_for(self.closed_event().wait(), self.launcher.ready_linger)
        except TimeoutError:
            pass

    def start_stream(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")


class BuildHandler(EventStreamHandler):
    async def get(self, *_args: str) -> None:
        self.start_stream()
        try:
            request = await self.admit()
        except (AdmissionError, UserError) as err:
            status = getattr(err, "status_code", 400)
            for key, value in getattr(err, "headers", {}).items():
                self.set_header(key, value)
            message = err.user_message if isinstance(err, UserError) else str(err)
            await self.emit(events.failed(message, status))
            return
        keepalive = asyncio.ensure_future(self.keepalive())
        try:
            await self.stream(request)
        except StreamClosedError:
            log.info("client closed the stream for %s", request.identifier)
        finally:
            keepalive.cancel()

    async def stream(self, request: LaunchRequest) -> None:
        async for ev in run_with_quotas(self.state.admission, self.state.pipeline, request):
            await self.emit(ev)
        await self.linger()

    async def admit(self) -> LaunchRequest:
        """All request checks, in BinderHub's order; raises a user-facing error."""
        if "text/event-stream" not in self.request.headers.get("Accept", ""):
            raise UserError(400, "Accept header must be text/event-stream")
        provider, spec = self.get_spec_from_request("build")
        if provider not in SPEC_PROVIDERS:
            raise UserError(400, f"No provider found for prefix {provider}")
        if not spec:
            raise UserError(400, f"empty spec; write {provider}/<...> as in a Binder link")
        build_only = self.get_argument("build_only", "false").lower() == "true"
        if build_only and not self.launcher.allow_build_only:
            raise UserError(400, "Building but not launching is not permitted")
        if not (build_only or self.user_name or self.launcher.anonymous):
            raise UserError(403, "Log in to the hub to launch (anonymous launches are disabled here)")
        token_ok = self._check_build_token(provider, spec)
        if not token_ok and not self.current_user:
            for key, value in self.state.admission.rate.check(self.client_ip).items():
                self.set_header(key, value)
        self.state.admission.policy.check(f"{provider}/{spec}")
        hpc: dict[str, str] = {}
        if build_only:  # no launch: the user's choices do not matter
            try:
                system, flavor = pick_resource(self.launcher.systems,
                                               self.get_argument("system", ""),
                                               self.get_argument("flavor", ""))
            except ValueError as err:
                raise UserError(400, str(err)) from err
        else:
            system, flavor, hpc = await self.pick_choice(
                *(self.get_argument(k, "") for k in ("system", "flavor", "project", "account")))
        storage = self.checked_storage_path(
            self.get_argument("localstoragepath", None) or self.get_argument("dataDir", ""))
        return LaunchRequest(
            provider=provider, spec=spec, client_ip=self.client_ip,
            launch_host=self.public_base_url(), user=self.user_name, system=system, flavor=flavor,
            hpc=hpc, storage_path=storage, name=self.get_argument("name", "")[:100], build_only=build_only,
            build_token=token_ok, origin=self.request.host,
            request_origin=self.request.headers.get("Origin", "")
            or self.request.headers.get("Sec-Fetch-Site", ""),
        )

    def _check_build_token(self, provider: str, spec: str) -> bool:
        token = self.get_argument("build_token", "")
        if not token:
            return False
        origin = None
        if self.launcher.build_token_check_origin:
            origin = self.token_origin()
        try:
            buildtoken.decode(token, self.launcher.build_token_secret, f"{provider}/{spec}", origin)
        except buildtoken.BuildTokenError as err:
            raise UserError(403, str(err)) from err
        return True


default_handlers = [
    (r"build/([^/]+)/(.+)", BuildHandler),
]
