"""Operator knobs of the launcher web service (``c.LauncherConfig.<trait>`` in the config file).

One :class:`LauncherConfig` instance is shared by every handler (``self.launcher`` in
:class:`launcher.handlers.base.BaseHandler`), the pipeline and the hand-off strategies.
Defaults follow BinderHub where BinderHub has the same knob (rate limit 10/h, build
token lifetime 300 s, keepalive 25 s, 60 s linger after ``ready``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, CaselessStrEnum, Dict, Float, Int, List, Unicode, default, validate
from traitlets.config import Configurable


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
        help="""Public base URL used in badges, snippets and ``binder_launch_host``
        (BinderHub's ``badge_base_url``), e.g. ``https://launch.example.org/``.
        Empty: derived from the request's scheme, host and base_url.""",
    ).tag(config=True)

    trust_xheaders = Bool(
        False,
        help="""Trust X-Forwarded-For/-Proto/-Host from a reverse proxy (client IP for the
        rate limit, scheme/host for links). Enable only behind a proxy you control.""",
    ).tag(config=True)

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

    hub_api_url = Unicode(
        "",
        help="""JupyterHub REST API URL used by the hub-api hand-off (server side). Default:
        $JUPYTERHUB_API_URL, else ``<hub_url>hub/api/``.""",
    ).tag(config=True)

    @default("hub_api_url")
    def _hub_api_url_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_URL", "")

    def effective_hub_api_url(self) -> str:
        if self.hub_api_url:
            return _ensure_slash(self.hub_api_url)
        return self.hub_url + "hub/api/" if self.hub_url else ""

    hub_api_token = Unicode(
        "",
        help="""JupyterHub API token of the launcher's hub service (scopes: admin:users,
        admin:servers, tokens, read:users). Default: $JUPYTERHUB_API_TOKEN. Never logged.""",
    ).tag(config=True)

    @default("hub_api_token")
    def _hub_api_token_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    hub_request_timeout = Float(
        10.0,
        help="Seconds to wait for one JupyterHub REST API call (not the whole spawn).",
    ).tag(config=True)

    hub_retries = Int(
        3,
        help="""Retries of one JupyterHub API call answered with 5xx or a connection
        error (backoff starts at hub_retry_delay and doubles).""",
    ).tag(config=True)

    hub_retry_delay = Float(
        0.5, help="First backoff in seconds between retried JupyterHub API calls."
    ).tag(config=True)

    launch_timeout = Float(
        600.0,
        help="""Seconds a spawn may take (image pull included) before the launch fails with
        "server did not start within N s". BinderHub uses 600.""",
    ).tag(config=True)

    launch_retries = Int(
        1,
        help="""Additional launch attempts after a failed spawn ("Launch attempt N failed,
        retrying..."). BinderHub retries 4 times; a failure here says what failed.""",
    ).tag(config=True)

    # -- hand-off -----------------------------------------------------------------------
    handoff = CaselessStrEnum(
        ["hub-api", "start-url"],
        "hub-api",
        help="""How an image is handed to the hub. ``hub-api``: start a named server
        through the JupyterHub REST API with Jupyter-JSC user_options. ``start-url``:
        send the browser to Jupyter-JSC's ``<hub>/hub/api/start?...`` (e.g.
        hub.nfdi-jupyter.de), which handles login and server reuse itself.""",
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

    anonymous_user_pool = Int(
        2,
        help="""Temporary hub users created ahead of time (``anon-<random>``) so an anonymous
        launch does not wait for user creation; 0 creates each user on demand (named after
        the repository, as BinderHub does). Unused pool users are deleted on shutdown.""",
    ).tag(config=True)

    server_token_expires_seconds = Int(
        6 * 3600,
        help="""Lifetime of the per-launch hub token (scope access:servers for the one server)
        returned as ``token`` in the ready event.""",
    ).tag(config=True)

    storage_path = Unicode(
        "/home/jovyan/work",
        help="""Default ``storage.localstoragepath``: where the user's persistent storage is
        mounted in the server (the repository stays in the image's home directory).""",
    ).tag(config=True)

    systems = List(
        Dict(),
        [{"name": "local", "display_name": "This machine (Docker)",
          "flavors": [{"name": "default", "display_name": "Default"}]}],
        help="""Resources users may pick: a list of ``{"name", "display_name", "flavors":
        [{"name", "display_name", ...}]}``. The first system and its first flavor are the
        defaults. (The Outposts' own /flavors/ replace this list when configured.)""",
    ).tag(config=True)

    # -- admission ----------------------------------------------------------------------
    rate_limit = Int(
        10,
        help="""Launch/build requests per client IP per rate_limit_period for anonymous
        requests without a valid build token (BinderHub: 10 per hour). 0 disables.""",
    ).tag(config=True)

    rate_limit_period = Int(3600, help="Window of the rate limit in seconds.").tag(config=True)

    allowed_specs = List(
        Unicode(),
        [],
        help="""Regular expressions (re.match, case-insensitive) against ``<provider>/<spec>``
        (e.g. ``^gh/my-org/.*``); if non-empty, a spec must match one to launch.""",
    ).tag(config=True)

    banned_specs = List(
        Unicode(),
        [],
        help="""Regular expressions against ``<provider>/<spec>``; a match refuses the launch
        with "Sorry, <spec> is not allowed to launch".""",
    ).tag(config=True)

    per_user_quota = Int(
        0, help="Concurrent launches in progress per user (or client IP when anonymous); 0 = no limit."
    ).tag(config=True)

    per_target_quota = Int(
        0, help="Concurrent launches in progress per resolved target; 0 = no limit."
    ).tag(config=True)

    total_quota = Int(0, help="Concurrent launches in progress in total; 0 = no limit.").tag(config=True)

    # -- web ----------------------------------------------------------------------------
    cors_allow_origin = Unicode(
        "",
        help="""Value of Access-Control-Allow-Origin on API and event-stream responses
        (``*`` or one origin). Empty: no CORS header (``/versions`` always sends ``*``).""",
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

    ready_linger = Float(
        60.0,
        help="""Seconds an event stream stays open after ``ready``/``failed`` so that
        auto-reconnecting EventSource clients close it first (BinderHub: 60).""",
    ).tag(config=True)

    def system_names(self) -> list[str]:
        return [str(s.get("name", "")) for s in self.systems]

    def pick_resource(self, system: str, flavor: str) -> tuple[str, str]:
        """Validate (system, flavor) against :attr:`systems`; empty values pick defaults.

        Raises ValueError with a user-facing message for an unknown system or flavor.
        """
        if not self.systems:
            return system, flavor
        chosen = self.systems[0]
        if system:
            matches = [s for s in self.systems if s.get("name") == system]
            if not matches:
                raise ValueError(f"unknown system {system!r}; choose one of {self.system_names()}")
            chosen = matches[0]
        flavors = [str(f.get("name", "")) for f in chosen.get("flavors", [])]
        if flavor and flavors and flavor not in flavors:
            raise ValueError(f"unknown flavor {flavor!r} for system {chosen.get('name')!r}; choose one of {flavors}")
        return str(chosen.get("name", "")), flavor or (flavors[0] if flavors else "")
