"""The Outpost tornado application: routes, the housekeeping loop, start/stop of the server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado import web
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets
from traitlets import Float, Integer, Unicode
from traitlets.config import LoggingConfigurable

from appbase.web import BodyLimits, hardened_server
from outpost.handlers.flavors import FlavorsHandler, UserFlavorsHandler
from outpost.handlers.ping import PingHandler
from outpost.handlers.services import ServiceHandler, ServicesHandler
from outpost.manager import Outpost

log = logging.getLogger("nfdi_launcher.outpost")


def make_app(outpost: Outpost, base_path: str = "/", max_json_depth: int = 32) -> web.Application:
    base = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    routes: list[Any] = [
        (rf"{base}ping/?", PingHandler),
        (rf"{base}services/?", ServicesHandler),
        (rf"{base}services/([^/]+)/?", ServiceHandler),
        (rf"{base}services/([^/]+)/([^/]+)/?", ServiceHandler),
        (rf"{base}flavors/?", FlavorsHandler),
        (rf"{base}userflavors/?", UserFlavorsHandler),
    ]
    return web.Application(routes, outpost=outpost, max_json_depth=max_json_depth)


class OutpostServer(LoggingConfigurable):
    """An Outpost listening on ``ip:port`` inside the running event loop, with the loop
    that stops servers whose flavor runtime is over (``c.OutpostServer.*``)."""

    ip = Unicode(
        "127.0.0.1",
        help="Address to listen on. Keep loopback unless a TLS proxy is in front of it.",
    ).tag(config=True)

    port = Integer(8080, help="TCP port of the REST API (0: a free one).").tag(config=True)

    base_path = Unicode(
        "/",
        help="URL prefix of every endpoint (like upstream's OUTPOST_BASE_PATH), e.g. /outpost/.",
    ).tag(config=True)

    check_interval = Float(
        60.0,
        help="Seconds between checks that stop servers whose flavor runtime has expired.",
    ).tag(config=True)

    max_body_size = Integer(
        1024 * 1024,
        help="""Largest request body in bytes (``POST /services``, ``/userflavors``); other
        requests take none. Checked from the headers before anything is read, so also
        before authentication: a larger declared body is answered 413 at once, a chunked
        one is cut off at this size.""",
    ).tag(config=True)

    max_json_depth = Integer(
        32, help="Deepest nesting of arrays/objects accepted in a JSON body (deeper: 422)."
    ).tag(config=True)

    header_timeout = Float(
        20.0,
        help="""Seconds a connection may take to send a request's complete headers (from
        connecting, or from its previous response); slower ones are dropped, idle
        keep-alive connections too.""",
    ).tag(config=True)

    body_timeout = Float(
        30.0, help="Seconds a request may take to send its body; slower ones are dropped."
    ).tag(config=True)

    def __init__(self, outpost: Outpost | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the Outpost it serves; by default one configured from the same config
        self.outpost = outpost or Outpost(parent=self)
        app = make_app(self.outpost, self.base_path, max_json_depth=self.max_json_depth)
        self.http = hardened_server(app, BodyLimits(self.max_body_size),
                                    header_timeout=self.header_timeout, body_timeout=self.body_timeout)
        self.loop_cb = PeriodicCallback(self._housekeeping, self.check_interval * 1000)

    async def _housekeeping(self) -> None:
        n = await self.outpost.stop_expired()
        if n:
            log.info("stopped %d server(s) whose flavor runtime expired", n)

    async def recover(self) -> None:
        """Starts cut short by a restart: remove their containers, forget them.

        The hub's request for them has failed with the old process; servers that did
        start are untouched and polled as before."""
        for rec in self.outpost.store.records():
            if rec.start_pending and not rec.stop_pending:
                log.warning("removing %s/%s: its start was interrupted by a restart",
                            rec.hub, rec.name)
                try:
                    await self.outpost.backend.stop(rec)
                finally:
                    self.outpost.store.delete(rec.hub, rec.name, rec.start_id)

    def listen(self) -> int:
        """Bind and return the port (``port`` 0 picks a free one)."""
        sockets = bind_sockets(self.port, self.ip)
        self.http.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        self.loop_cb.start()
        log.info("Outpost listening on http://%s:%d%s", self.ip, port, self.base_path)
        return int(port)

    async def close(self) -> None:
        self.loop_cb.stop()
        self.http.stop()
        for task in list(self.outpost.tasks):
            task.cancel()
        await asyncio.sleep(0)
        self.outpost.probe.close()
        self.outpost.store.close()
