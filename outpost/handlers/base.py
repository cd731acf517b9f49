"""Shared handler behaviour: HTTP Basic auth (user name = hub), JSON errors.

Errors follow the upstream Outpost: 419 with ``{"module", "class", "traceback", "args",
"kwargs"}`` for everything a hub should show its user (the OutpostSpawner displays
``args``), 401 for bad credentials, 404 for unknown services, 422 for malformed bodies.
The traceback is left empty: it could reveal paths or settings of this host.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from tornado import web

from appbase.web import JSONTooDeep, loads_bounded
from outpost.body import BodyError
from outpost.flavors import FlavorError
from outpost.manager import NotFound, Outpost
from outpost.mapping import MappingError
from outpost.readiness import NotReady


class BaseHandler(web.RequestHandler):
    auth_required = True
    hub: str = ""

    @property
    def outpost(self) -> Outpost:
        return self.settings["outpost"]  # type: ignore[no-any-return]

    def prepare(self) -> None:
        self.set_header("Content-Type", "application/json")
        if self.auth_required:
            self.hub = self._authenticate()

    def _authenticate(self) -> str:
        header = self.request.headers.get("Authorization", "")
        hub, password = "", ""
        if header.lower().startswith("basic "):
            try:
                hub, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                hub = ""
        expected = self.outpost.credentials.get(hub)
        # compare_digest against a dummy too, so unknown hubs take as long as known ones
        ok = hmac.compare_digest(password.encode(), (expected or "\0").encode())
        if not hub or expected is None or not ok:
            raise web.HTTPError(401, reason="Unauthorized")
        return hub

    def json_body(self) -> Any:
        try:
            return loads_bounded(self.request.body or b"null", self.settings.get("max_json_depth", 32))
        except JSONTooDeep as e:
            raise BodyError("body", str(e)) from e
        except (ValueError, UnicodeDecodeError) as e:
            raise BodyError("body", "is not valid JSON") from e

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        if status_code == 401:  # send_error cleared the headers set before raising
            self.set_header("WWW-Authenticate", 'Basic realm="outpost"')
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError):
            self.finish(json.dumps({"detail": exc.reason or self._reason}))
        else:
            self.finish(json.dumps({"detail": "Internal error"}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Known, user-facing errors are not tracebacks worth logging.
        if isinstance(value, (web.HTTPError, BodyError, FlavorError, MappingError, NotFound,
                              NotReady)):
            return
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if self._finished:
            return
        if isinstance(e, BodyError):
            self.write_json({"detail": [{"loc": ["body", *e.loc.split(".")], "msg": e.msg,
                                         "type": "value_error"}]}, 422)
        elif isinstance(e, NotFound):
            self.write_json({"detail": str(e)}, 404)
        elif isinstance(e, web.HTTPError):
            super()._handle_request_exception(e)
        else:
            self.log_exception(type(e), e, e.__traceback__)
            self.write_json(error_419(e), 419)


def error_419(e: BaseException) -> dict[str, Any]:
    """The upstream error shape; ``args`` is what the user sees."""
    if isinstance(e, FlavorError):  # its ``reason`` is a code, not the message
        message, kwargs = str(e), {"reason": e.reason}
    else:
        message = getattr(e, "reason", None) or getattr(e, "log_message", None) or str(e)
        kwargs = {}
    return {"module": f"{type(e).__module__}.", "class": type(e).__name__,
            "traceback": "", "args": [str(message)[:1000] or type(e).__name__],
            "kwargs": kwargs}
