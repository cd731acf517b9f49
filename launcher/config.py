"""Operator knobs of the launcher web service (``c.LauncherConfig.<trait>`` in the config file).

One :class:`LauncherConfig` instance is shared by every handler (``self.launcher`` in
:class:`launcher.handlers.base.BaseHandler`) and is the ``parent`` of the classes that act:
:class:`~launcher.admission.Admission` (rate limit, bans, quotas),
:class:`~launcher.pipeline.Pipeline`, the hand-off strategy (:attr:`LauncherConfig.handoff_class`)
and its :class:`~launcher.handoff.hubapi.HubClient`. Their settings are theirs
(``c.Admission.rate_limit``, ``c.HubClient.api_url``, ...); this class keeps what the web
service itself does. Defaults follow BinderHub where BinderHub has the same knob (build
token lifetime 300 s, keepalive 25 s). Unlike BinderHub after a build, an event stream
ends right after its ``ready`` or ``failed`` event.

:data:`RENAMED` lists the settings that used to be here; ``nfdi-launcher serve`` forwards
them from old config files with a warning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, Type, Unicode, default, validate
from traitlets.config import Configurable

#: short names of the hand-off strategies (``c.LauncherConfig.handoff_class = "start-url"``)
HANDOFFS = {
    "hub-api": "launcher.handoff.hubapi.HubApiHandOff",
    "start-url": "launcher.handoff.starturl.StartUrlHandOff",
}

#: settings that moved from LauncherConfig to the class that acts (old name -> new name)
RENAMED = {
    **{f"LauncherConfig.{name}": f"Admission.{name}" for name in (
        "rate_limit", "rate_limit_period", "allowed_specs", "banned_specs", "per_user_quota",
        "per_target_quota", "total_quota")},
    "LauncherConfig.hub_api_url": "HubClient.api_url",
    "LauncherConfig.hub_api_token": "HubClient.api_token",
    "LauncherConfig.hub_request_timeout": "HubClient.request_timeout",
    "LauncherConfig.hub_retries": "HubClient.retries",
    "LauncherConfig.hub_retry_delay": "HubClient.retry_delay",
    **{f"LauncherConfig.{name}": f"HubApiHandOff.{name}" for name in (
        "launch_timeout", "anonymous_user_pool", "server_token_expires_seconds")},
    "LauncherConfig.launch_retries": "Pipeline.launch_retries",
    "LauncherConfig.handoff": "LauncherConfig.handoff_class",
}


class HandOffType(Type[Any, Any]):
    """A :class:`~traitlets.Type` that also accepts the short names of :data:`HANDOFFS`."""

    def __init__(self, default_value: str, **kwargs: Any) -> None:
        super().__init__(default_value, klass="launcher.handoff.base.HandOff", **kwargs)

    def _resolve_string(self, string: str) -> Any:
        return super()._resolve_string(HANDOFFS.get(string.lower(), string))


def default_state_dir() -> Path:
    """$NFDI_LAUNCHER_STATE_DIR, else $XDG_STATE_HOME/nfdi-launcher (~/.local/state/...)."""
    env = os.environ.get("NFDI_LAUNCHER_STATE_DIR", "")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME", "") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "nfdi-launcher"


def _ensure_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class LauncherConfig(Configurable):
    """Settings of the launcher web service and its hand-off to JupyterHub."""

    # -- where we run -------------------------------------------------------------------
    base_url = Unicode(
        "/",
        help="""URL prefix of every route, e.g. ``/`` standalone or ``/services/launcher/``
        as a JupyterHub service. Defaults to $JUPYTERHUB_SERVICE_PREFIX when set.""",
    ).tag(config=True)

    @default("base_url")
    def _base_url_default(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")

    @validate("base_url")
    def _valid_base_url(self, proposal: Any) -> str:
        value = "/" + str(proposal["value"]).strip("/") + "/"
        return "/" if value == "//" else value

    state_dir = Unicode(
        help="""Directory of the launcher's own state (the store's SQLite file unless
        c.Store.db_url names a database). Default: $NFDI_LAUNCHER_STATE_DIR, else
        $XDG_STATE_HOME/nfdi-launcher (~/.local/state/nfdi-launcher).""",
    ).tag(config=True)

    @default("state_dir")
    def _state_dir_default(self) -> str:
        return str(default_state_dir())

    badge_base_url = Unicode(
        "",
        help="""Public base URL used in badges, snippets, the OpenAPI document and
        ``binder_launch_host`` (BinderHub's ``badge_base_url``), e.g.
        ``https://launch.example.org/``. Empty: as a hub service (base_url
        ``/services/...``) ``<hub_url><base_url>``; otherwise the request's scheme and
        Host, if Host is one of allowed_hosts. Required with trust_xheaders unless the
        hub-service default applies.""",
    ).tag(config=True)

    allowed_hosts = List(
        Unicode(),
        ["localhost", "127.0.0.1", "::1"],
        help="""Host names (without port) the launcher answers for when it takes its public
        URL from the request (badge_base_url empty, not a hub service). A request with any
        other Host gets 400 where a link would be made, so a forged Host never reaches a
        snippet or the OpenAPI ``servers``. ``"*"`` allows any Host (unsafe).""",
    ).tag(config=True)

    trust_xheaders = Bool(
        False,
        help="""Trust X-Forwarded-For/-Proto/-Host from a reverse proxy (client IP for the
        rate limit, scheme/host for links). Enable only behind a proxy you control; then
        badge_base_url is required (or the hub-service default).""",
    ).tag(config=True)

    def public_url(self) -> str:
        """The configured public URL (ending in ``/``), or "" if it comes from the request."""
        if self.badge_base_url:
            return _ensure_slash(self.badge_base_url)
        if self.hub_url and self.base_url.startswith("/services/"):
            return self.hub_url + self.base_url.lstrip("/")  # behind the hub's proxy
        return ""

    def host_allowed(self, host: str) -> bool:
        """Is *host* (``name[:port]``, as in the Host header) one of allowed_hosts?"""
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 or "]" in host else host
        name = name.strip("[]").rstrip(".").lower()
        return "*" in self.allowed_hosts or name in {h.strip("[]").lower() for h in self.allowed_hosts}

    def check(self) -> None:
        """Refuse settings that cannot work together (at start-up, with what to change)."""
        if self.trust_xheaders and not self.public_url():
            raise ValueError("c.LauncherConfig.badge_base_url is required with trust_xheaders: "
                             "behind a proxy the Host header is the client's to choose")

    # -- the hub ------------------------------------------------------------------------
    hub_url = Unicode(
        "",
        help="""Public URL of the JupyterHub users are sent to, e.g. ``https://hub.example.org/``.
        Launch URLs are ``<hub_url>user/<name>/<server>/``. Defaults to the origin of
        $JUPYTERHUB_SERVICE_URL's hub ($JUPYTERHUB_BASE_URL is respected) when run as a
        hub service.""",
    ).tag(config=True)

    @validate("hub_url")
    def _valid_hub_url(self, proposal: Any) -> str:
        value = str(proposal["value"])
        return _ensure_slash(value) if value else value

    # -- hand-off -----------------------------------------------------------------------
    handoff_class = HandOffType(
        "hub-api",
        help="""How an image is handed to the hub (a :class:`~launcher.handoff.base.HandOff`
        subclass or its import string). Short names: ``hub-api``: start a named server
        through the JupyterHub REST API with Jupyter-JSC user_options
        (:class:`~launcher.handoff.hubapi.HubApiHandOff`); ``start-url``: send the browser
        to Jupyter-JSC's ``<hub>/hub/api/start?...`` (e.g. hub.nfdi-jupyter.de), which
        handles login and server reuse itself
        (:class:`~launcher.handoff.starturl.StartUrlHandOff`).""",
    ).tag(config=True)

    anonymous = Bool(
        True,
        help="""Launch for visitors without a hub login as temporary hub users (BinderHub's
        default). False: every launch needs a logged-in hub user (HubOAuth or a
        ``Authorization: token`` header).""",
    ).tag(config=True)

    auth_enabled = Bool(
        False,
        help="""Identify users through JupyterHub OAuth (HubOAuth) when running as a hub
        service. Default: True when $JUPYTERHUB_API_TOKEN and $JUPYTERHUB_SERVICE_PREFIX
        are set.""",
    ).tag(config=True)

    @default("auth_enabled")
    def _auth_enabled_default(self) -> bool:
        return bool(os.environ.get("JUPYTERHUB_SERVICE_PREFIX") and os.environ.get("JUPYTERHUB_API_TOKEN"))

    storage_path = Unicode(
        "/home/jovyan/work",
        help="""Default ``storage.localstoragepath``: where the user's persistent storage is
        mounted in the server (the repository stays in the image's home directory).""",
    ).tag(config=True)

    access_help = Unicode(
        "",
        help="""Where a person asks for access, shown when their login allows no system
        here (or not the one a link names), e.g. "Ask your community's VO managers, or
        support@example.org." Plain text.""",
    ).tag(config=True)

    systems = List(
        Dict(),
        [{"name": "local", "display_name": "This machine (Docker)",
          "flavors": [{"name": "default", "display_name": "Default"}]}],
        help="""Resources users may pick: a list of ``{"name", "display_name", "flavors":
        [{"name", "display_name", ...}]}``. The first system and its first flavor are the
        defaults. (The Outposts' own /flavors/ replace this list when configured.)""",
    ).tag(config=True)

    # -- web ----------------------------------------------------------------------------
    cors_allow_origin = Unicode(
        "",
        help="""Value of Access-Control-Allow-Origin on API and event-stream responses
        (``*`` or one origin). Empty: no CORS header (``/versions`` always sends ``*``).""",
    ).tag(config=True)

    max_body_size = Int(
        16384,
        help="""Largest request body in bytes (``POST /api/v1/...``); other requests take
        none. Checked from the headers, before the body is read: a larger declared body is
        answered 413 at once, a chunked one is cut off at this size.""",
    ).tag(config=True)

    max_json_depth = Int(
        32, help="Deepest nesting of arrays/objects accepted in a JSON body (deeper: 400)."
    ).tag(config=True)

    header_timeout = Float(
        20.0,
        help="""Seconds a connection may take to send a request's complete headers (from
        connecting, or from its previous response); slower ones are dropped. Idle
        keep-alive connections are closed after the same time.""",
    ).tag(config=True)

    body_timeout = Float(
        30.0, help="Seconds a request may take to send its body; slower ones are dropped."
    ).tag(config=True)

    max_query_length = Int(
        4096, help="Longest accepted query string in bytes; longer requests get 414."
    ).tag(config=True)

    build_token_secret = Unicode(
        "",
        help="""Secret (hex or text) signing the HS256 build tokens embedded in /v2/ pages.
        Default: $BINDERHUB_BUILD_TOKEN_SECRET, else random per process (replicas must
        share one).""",
    ).tag(config=True)

    @default("build_token_secret")
    def _build_token_secret_default(self) -> str:
        return os.environ.get("BINDERHUB_BUILD_TOKEN_SECRET", "") or os.urandom(32).hex()

    build_token_expires_seconds = Int(300, help="Lifetime of a build token in seconds.").tag(config=True)

    build_token_check_origin = Bool(
        True, help="Refuse a build token used from another origin than it was issued for."
    ).tag(config=True)

    allow_build_only = Bool(
        True,
        help="""Honour ``build_only=true`` on /build/ (build, report the image, no launch),
        as used by jupyterhub-fancy-profiles.""",
    ).tag(config=True)

    keepalive_interval = Float(
        25.0, help="Seconds between ``:keepalive`` comments on an idle event stream (≤ 25)."
    ).tag(config=True)

