"""Shared handler behaviour: user identity, JSON errors, CORS, raw spec extraction.

Every handler of the launcher (and of launcher-web's pages) derives from
:class:`BaseHandler`. Errors never carry a stack trace to the client: ``write_error``
renders ``{"status": N, "message": "...", "reason", "request_id", "next_action"}`` (see
:mod:`launcher.failures`), with the message taken from ``HTTPError.log_message`` only
when it was meant for the user; what else is known goes to the log under the request id.

Identity, as JupyterHub services do it (``reference/hub-service-auth.md``): the handlers are
:class:`~jupyterhub.services.auth.HubOAuthenticated` with the application's ONE
:class:`~jupyterhub.services.auth.HubOAuth` (the OAuth callback handler shares it, so the
PKCE verifier it keeps in memory is found). :meth:`BaseHandler.prepare` identifies the user
from an ``Authorization: token`` header or the OAuth cookie, without blocking the loop.
:func:`user_required` is tornado's ``authenticated`` for routes that need a user when the
launcher is not anonymous: a browser's GET goes through the hub's
``/hub/api/oauth2/authorize`` (login when needed) and comes back to the exact URL, query
included; API and event-stream handlers answer 403 instead (:meth:`get_login_url`).
Cookie-authenticated requests that are not page views must carry the XSRF token
(``X-XSRFToken`` header; ``?_xsrf=`` for an EventSource), as in JupyterHub.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from tornado import web

from launcher import failures
from launcher.admission import ENTRIES, AdmissionError, Ask
from launcher.failures import PipelineError
from launcher.failures.classify import admission_failure
from launcher.pipeline import LaunchRequest
from launcher.systems import pick_project, pick_resource, systems_for_auth_state

if TYPE_CHECKING:
    from launcher.app import LauncherState
    from launcher.config import LauncherConfig

log = logging.getLogger("nfdi_launcher.web")

#: query parameters the /v2/ and /build/ grammar carries on to the launch
LAUNCH_QUERY_KEYS = ("urlpath", "labpath", "filepath", "system", "flavor", "localstoragepath",
                     "dataDir", "name", "project", "account")


def json_dumps(data: Any) -> str:
    """JSON with "<", ">" and "&" escaped, so an echoed identifier is never markup."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class UserError(web.HTTPError):
    """An HTTP error whose message is safe and meant for the user; *reason* is one of
    :data:`launcher.failures.REASONS` (else derived from the status), *detail* is for the
    log only."""

    def __init__(self, status_code: int, message: str, reason: str = "", detail: str = "") -> None:
        super().__init__(status_code, "%s", message)
        self.user_message = message
        self.failure_reason = reason  # (tornado's ``reason`` is the HTTP reason phrase)
        self.detail = detail
        self.retry_after: float | None = None

    @classmethod
    def of(cls, err: PipelineError) -> UserError:
        """The HTTP error of a classified failure (its message as the person reads it)."""
        made = cls(err.status_code, failures.person_message(err), err.reason,
                   err.detail or str(err))
        made.retry_after = err.retry_after
        return made

    def failure(self) -> PipelineError:
        return PipelineError(self.status_code, self.user_message, reason=self.failure_reason,
                             detail=self.detail, retry_after=self.retry_after, for_person=True)


Method = TypeVar("Method", bound=Callable[..., Awaitable[None] | None])


def user_required(method: Method) -> Method:
    """tornado's ``@authenticated`` on routes that need a hub user unless anonymous."""
    guarded = web.authenticated(method)

    @functools.wraps(method)
    def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
        if self.login_required():
            return guarded(self, *args, **kwargs)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class BaseHandler(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
    """Base of every launcher handler."""

    _user_model: dict[str, Any] | None = None
    _not_allowed: str = ""  # set when the hub knows the user but they may not use us

    @property
    def launcher(self) -> LauncherConfig:
        return self.settings["launcher"]  # type: ignore[no-any-return]

    @property
    def state(self) -> LauncherState:
        return self.settings["state"]  # type: ignore[no-any-return]

    @property
    def base_url(self) -> str:
        return self.launcher.base_url

    # -- request checks and identity -----------------------------------------------------
    async def prepare(self) -> None:
        if len(self.request.query) > self.launcher.max_query_length:
            raise UserError(414, f"query string longer than {self.launcher.max_query_length} bytes")
        if len(self.request.path) > 8192:
            raise UserError(414, "request path too long")
        self._user_model = await self._identify_user()
        if self._not_allowed and getattr(self, "_token_authenticated", False):
            # an API client acting as a user who may not use us: never run as someone else
            raise UserError(403, f"{self._not_allowed} may not use this launcher (the token "
                                 "lacks the scope access:services!service=<this service>)")

    async def _identify_user(self) -> dict[str, Any] | None:
        if self.hub_auth is None:
            return None
        try:
            model = await self.hub_auth.get_user(self, sync=False)
        except Exception as err:  # the hub being down must not break anonymous pages
            log.warning("could not identify user through the hub: %s", err)
            return None
        if not isinstance(model, dict):
            return None
        try:
            return self.check_hub_user(model)  # type: ignore[no-any-return]
        except UserNotAllowed:
            self._not_allowed = f"{model.get('kind', 'user')} {model.get('name', '')}"
            return None

    @property
    def hub_auth(self) -> Any:
        """The application's one HubOAuth (None when not a hub service)."""
        return self.state.hub_auth

    def get_current_user(self) -> dict[str, Any] | None:
        return self._user_model

    def login_required(self) -> bool:
        """Routes marked :func:`user_required` need a user: a hub service, not anonymous."""
        return self.hub_auth is not None and not self.launcher.anonymous

    def get_login_url(self) -> str:
        """The hub's authorize URL (with the OAuth state of this request), or a 403."""
        if self._not_allowed:
            raise UserError(403, f"{self._not_allowed} may not use this launcher; ask the "
                                 "hub's operator for access")
        if self.hub_auth is None:
            raise UserError(403, "Log in to the hub to launch (anonymous launches are "
                                 "disabled here)")
        return super().get_login_url()

    @property
    def xsrf_token(self) -> bytes:
        if self.hub_auth is None:
            return web.RequestHandler.xsrf_token.fget(self)  # type: ignore[attr-defined,no-any-return]
        return super().xsrf_token

    def check_xsrf_cookie(self) -> None:
        if self.hub_auth is None:
            web.RequestHandler.check_xsrf_cookie(self)
            return
        super().check_xsrf_cookie()

    def auth_config(self) -> dict[str, Any]:
        """Who is logged in, for the pages' header and scripts."""
        if self.hub_auth is None:
            return {"auth": False, "user": self.user_name}
        return {"auth": True, "user": self.user_name,
                "xsrf_token": self.xsrf_token.decode("ascii"),
                "login_url": self.base_url + "login", "logout_url": self.base_url + "logout"}

    @property
    def user_name(self) -> str:
        """Hub user name of the logged-in user, or "" when anonymous."""
        model = self._user_model
        return str(model.get("name", "")) if model and model.get("kind", "user") == "user" else ""

    @property
    def client_ip(self) -> str:
        return str(self.request.remote_ip or "")

    # -- headers, CORS, errors ------------------------------------------------------------
    def set_default_headers(self) -> None:
        origin = self.settings["launcher"].cors_allow_origin
        if origin:
            self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("access-control-allow-headers", "cache-control, authorization, content-type")
        self.set_header("X-Content-Type-Options", "nosniff")

    def options(self, *args: Any, **kwargs: Any) -> None:
        """CORS pre-flight: headers only."""
        self.set_status(204)

    def error_message(self, status_code: int, exc: BaseException | None) -> str:
        if isinstance(exc, UserError):
            return exc.user_message
        if isinstance(exc, web.HTTPError) and exc.log_message and status_code < 500:
            return exc.log_message % exc.args if exc.args else exc.log_message
        return self._reason

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.clear_header("Content-Disposition")
        body = self.failure_fields(status_code, exc)
        self.finish(json_dumps({"status": status_code, **body}))

    def failure_fields(self, status_code: int, exc: BaseException | None) -> dict[str, Any]:
        """``message`` (with the request id), ``reason``, ``request_id``, ``next_action`` of
        an error answer; the error is logged under the same request id."""
        if isinstance(exc, UserError):
            err = exc.failure()
        else:
            err = PipelineError(status_code, self.error_message(status_code, exc),
                                detail=f"{type(exc).__name__}: {exc}" if exc else "")
        request_id = failures.new_request_id()
        failures.log_failure(err, request_id, f"{self.request.method} {self.request.path}")
        event = failures.failed_event(err, request_id)
        return {k: event[k].rstrip("\n") if k == "message" else event[k]
                for k in ("message", "reason", "request_id", "next_action", "retry_after")
                if k in event}

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json_dumps(data))

    # -- URLs ---------------------------------------------------------------------------
    def get_spec_from_request(self, prefix: str) -> tuple[str, str]:
        """Return (provider, spec) from the RAW path after ``<base_url><prefix>/``.

        The router decodes path arguments, which would turn ``git/https%3A%2F%2F...``
        into extra path segments; BinderHub reads the raw path for the same reason.
        The spec stays percent-encoded exactly as requested; a trailing "/" is dropped.
        """
        path = self.request.path
        start = self.base_url + prefix.strip("/") + "/"
        if not path.startswith(start):
            raise UserError(400, "malformed launch path")
        rest = path[len(start):]
        provider, _, spec = rest.partition("/")
        return unquote(provider), spec.rstrip("/")

    def public_base_url(self) -> str:
        """The launcher's public URL (BinderHub's launch host, links, snippets): the
        configured one (:meth:`LauncherConfig.public_url`), else this request's scheme and
        Host if Host is one of ``allowed_hosts``; any other Host is a 400, never echoed
        into a link."""
        fixed = self.launcher.public_url()
        if fixed:
            return fixed
        host = self.request.host
        if not self.launcher.host_allowed(host):
            raise UserError(400, "This launcher does not answer for this Host; its operator sets "
                                 "c.LauncherConfig.badge_base_url (or allowed_hosts)")
        return f"{self.request.protocol}://{host}{self.base_url}"

    def token_origin(self) -> str:
        """The origin a build token is bound to: the Origin header's netloc, else Host."""
        return self.request.headers.get("Origin", "").split("://", 1)[-1] or self.request.host

    def ask(self, entry: str, **fields: Any) -> Ask:
        """What this request asks of admission (client, user, origins filled in)."""
        return Ask(entry=entry, client_ip=self.client_ip, user=self.user_name,
                   token_origin=self.token_origin(),
                   origin=self.request.host,
                   request_origin=self.request.headers.get("Origin", "")
                   or self.request.headers.get("Sec-Fetch-Site", ""), **fields)

    async def admit(self, ask: Ask) -> LaunchRequest:
        """:meth:`Admission.admit`; a refusal as a :class:`UserError`, rate-limit headers set."""
        try:
            if ENTRIES[ask.entry][2]:  # a build or launch: its resource, its public URL
                await self.choose_resource(ask)
                ask.launch_host = self.public_base_url()
            return await self.state.admission.admit(ask, self.state.pipeline.resolve_target)
        except PipelineError as err:  # the resolver's (launcher.failures.classify)
            raise UserError.of(err) from err
        except AdmissionError as err:
            raise UserError.of(admission_failure(err)) from err
        finally:
            for key, value in ask.headers.items():
                self.set_header(key, value)

    async def choose_resource(self, ask: Ask) -> None:
        """Check and fill in the system, flavor and HPC project of a build or launch."""
        ask.resource_given = bool(ask.system or ask.flavor)
        if ask.build_only:  # no launch: the user's own choices do not matter
            try:
                ask.system, ask.flavor = pick_resource(self.launcher.systems, ask.system, ask.flavor)
            except ValueError as err:
                raise UserError(400, str(err), "flavor_unknown") from err
            return
        ask.system, ask.flavor, ask.hpc = await self.pick_choice(
            ask.system, ask.flavor, ask.project, ask.account)

    def checked_urlpath(self, query: dict[str, str]) -> str:
        """The in-server path *query* asks for; a hostile one is a 400, never a redirect."""
        from launcher.urlpath import UnsafePath, resolve_urlpath

        try:
            return resolve_urlpath(query)
        except UnsafePath as err:
            raise UserError(400, str(err)) from err

    _systems: list[dict[str, Any]] | None = None

    async def systems_for_user(self) -> list[dict[str, Any]]:
        """Systems (with flavors, and projects on HPC systems) the current user may pick;
        first = default. After an OIDC login the hub keeps the user's rights in
        ``auth_state`` (:mod:`launcher.login.rights`), read here with the launcher's hub
        token (scope ``admin:auth_state``); other logins see every configured system."""
        if self._systems is None:
            systems = [dict(s) for s in self.launcher.systems]
            auth_state = await self._auth_state() if self.user_name else None
            self._systems = systems_for_auth_state(systems, auth_state)
        return self._systems

    async def _auth_state(self) -> dict[str, Any] | None:
        from urllib.parse import quote

        from launcher.pipeline import PipelineError

        hub = getattr(self.state.pipeline.handoff, "hub", None)
        if hub is None:  # start-url: the hub there offers the choices itself
            return None
        try:
            model = await hub.json("GET", f"users/{quote(self.user_name)}", retries=0,
                                   what=f"read {self.user_name}'s rights")
        except PipelineError as err:
            log.warning("could not read %s's rights from the hub: %s", self.user_name, err)
            raise UserError(503, "Your choices could not be read from the hub just now; "
                                 "please try again.", "service_unavailable") from err
        state = (model or {}).get("auth_state")
        return state if isinstance(state, dict) else None

    def no_systems_message(self) -> str:
        """Why this user may launch nowhere, and where to ask ("" if they may)."""
        if self._systems or not self.launcher.systems:
            return ""
        ask = self.launcher.access_help.strip()
        return (f"Your account ({self.user_name}) may not use any of this service's systems: "
                "what you may use comes from your memberships (groups and projects) at "
                "your login service, and none of them grants a system here yet."
                + (f" {ask}" if ask else ""))

    async def pick_choice(self, system: str, flavor: str, project: str = "",
                          account: str = "") -> tuple[str, str, dict[str, str]]:
        """(system, flavor, hpc) of a launch, checked against the user's choices; a
        user-facing 403 for what exists here but not for this user, 400 for the rest."""
        mine = await self.systems_for_user()
        if not mine and self.launcher.systems:
            raise UserError(403, self.no_systems_message(), "flavor_forbidden")
        ask = self.launcher.access_help.strip()
        ask = f" {ask}" if ask else ""
        everyone = {str(s.get("name")): s for s in self.launcher.systems}
        own = {str(s.get("name")): s for s in mine}
        if system in everyone and system not in own:
            raise UserError(403, f"Your account may not use the system {system!r}.{ask}",
                            "flavor_forbidden")
        if system in own and flavor:
            offered = [str(f.get("name")) for f in own[system].get("flavors", [])]
            exists = {str(f.get("name")) for f in everyone[system].get("flavors", [])}
            if flavor not in offered and flavor in exists:
                raise UserError(403, f"Your account may not use the flavor {flavor!r} on "
                                     f"{system!r}. You may use: {', '.join(offered)}.{ask}",
                                "flavor_forbidden")
        try:
            system, flavor = pick_resource(mine, system, flavor)
        except ValueError as err:
            raise UserError(400, str(err), "flavor_unknown") from err
        try:
            hpc = pick_project(mine, system, project, account)
        except ValueError as err:  # an HPC project the user does not hold (or none to give)
            raise UserError(400, str(err), "bad_request") from err
        return system, flavor, hpc

    def launch_query(self) -> dict[str, str]:
        """The launch-related query parameters present in this request."""
        return {k: self.get_argument(k) for k in LAUNCH_QUERY_KEYS if self.get_argument(k, None) is not None}
