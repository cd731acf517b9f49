"""The launcher's tornado application: one list of handler modules, one shared state.

Each resource lives in its own module under :mod:`launcher.handlers` and exports
``default_handlers`` (a list of ``(pattern, HandlerClass[, kwargs])`` with patterns
*relative* to ``base_url``, e.g. ``r"build/([^/]+)/(.+)"``). :func:`make_app` prefixes
every pattern with the configured ``base_url`` and concatenates the lists in the order of
:data:`HANDLER_MODULES` (first match wins, so catch-alls belong in the last module).

Shared state is in ``Application.settings``:

- ``launcher``: the :class:`~launcher.config.LauncherConfig`
- ``state``: the :class:`LauncherState` (pipeline, admission, hub auth, store, jobs)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tornado.web
from tornado.httpserver import HTTPServer

from appbase.web import BodyLimits, hardened_server
from launcher import eventlog
from launcher.admission import Admission, run_with_quotas
from launcher.config import LauncherConfig
from launcher.jobs import Jobs
from launcher.pipeline import Pipeline
from launcher.receipts.book import Receipts
from launcher.receipts.stamp import Stamper
from launcher.store import Store

PACKAGE_DIR = Path(__file__).parent

#: handler modules in routing order (first match wins)
HANDLER_MODULES = [
    "launcher.receipts.handlers",  # before build and pages: v2/receipt/, build/receipt/
    "launcher.handlers.build",
    "launcher.handlers.api",
    "launcher.handlers.servers",
    "launcher.handlers.launch",
    "launcher.handlers.health",
    "launcher.handlers.versions",
    "launcher.handlers.metrics",
    "launcher.handlers.repoproviders",
    "launcher.handlers.login",
    "launcher.handlers.badges",  # launcher-web: badge SVGs
    "launcher.handlers.pages",  # launcher-web: home, /v2 loading page, static
]


@dataclass
class LauncherState:
    """Objects shared by all handlers of one application."""

    config: LauncherConfig
    pipeline: Pipeline
    admission: Admission
    store: Store
    jobs: Jobs
    receipts: Receipts | None = None
    hub_auth: Any = None  # jupyterhub.services.auth.HubOAuth when auth_enabled
    #: the last /health result and when it was taken (checks are cached for a few seconds)
    health: tuple[float, dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def collect_handlers(base_url: str, modules: list[str] | None = None) -> list[tuple[Any, ...]]:
    """Import each handler module and prefix its patterns with *base_url*."""
    handlers: list[tuple[Any, ...]] = []
    for name in modules or HANDLER_MODULES:
        module = importlib.import_module(name)
        for entry in getattr(module, "default_handlers", []):
            pattern = entry[0].lstrip("/")
            handlers.append((base_url + pattern, *entry[1:]))
    return handlers


def _hub_auth(config: LauncherConfig) -> Any:
    if not config.auth_enabled:
        return None
    from jupyterhub.services.auth import HubOAuth

    from launcher.handoff.hubapi import HubClient

    # the same service token as the hand-off's REST calls (c.HubClient.api_token)
    return HubOAuth(api_token=HubClient(parent=config).api_token, cache_max_age=60)


def make_receipts(config: LauncherConfig, store: Store, pipeline: Pipeline) -> Receipts:
    """Receipts on *store*, stamped on every ready event of *pipeline*; relaunches may use
    the builder's registry and image prefix."""
    images = pipeline.builder.store if pipeline.builder is not None else None
    prefix = str(getattr(pipeline.builder, "image_prefix", ""))
    host = images.host if images is not None else ""
    receipts = Receipts(store, [f"{host}/{prefix}" if host else prefix] if prefix else [],
                        parent=config)
    if receipts.enabled:
        receipts.ring.signing_key()  # made now: the JWKS is never empty
        receipts.publish()  # other replicas serve it too
    if not any(isinstance(h, Stamper) for h in pipeline.ready_hooks):
        pipeline.ready_hooks.append(Stamper(receipts, images))
    return receipts


def make_app(
    config: LauncherConfig | None = None,
    *,
    pipeline: Pipeline | None = None,
    handler_modules: list[str] | None = None,
    **settings: Any,
) -> tornado.web.Application:
    """Build the application; *pipeline* defaults to fdo + builders + the configured hand-off."""
    config = config or LauncherConfig()
    config.check()
    pipeline = pipeline or Pipeline.from_config(config)
    if eventlog.observer not in pipeline.observers:
        pipeline.observers.append(eventlog.observer)
    hub_auth = _hub_auth(config)
    admission = Admission(parent=config)
    store = Store(parent=config)
    store.start()
    jobs = Jobs(store, lambda request: run_with_quotas(admission, pipeline, request), parent=config)
    receipts = make_receipts(config, store, pipeline)
    state = LauncherState(config=config, pipeline=pipeline, admission=admission, store=store,
                          jobs=jobs, receipts=receipts, hub_auth=hub_auth)
    handlers = collect_handlers(config.base_url, handler_modules)
    if hub_auth is not None:
        from launcher.handlers.login import OAuthCallbackHandler

        callback = urlparse(hub_auth.oauth_redirect_uri or "").path or config.base_url + "oauth_callback"
        handlers.insert(0, (callback, OAuthCallbackHandler))
    app_settings: dict[str, Any] = {
        "launcher": config,
        "state": state,
        "hub_auth": hub_auth,
        "base_url": config.base_url,
        "xheaders": config.trust_xheaders,
        "cookie_secret": config.build_token_secret.encode(),
        "static_url_prefix": config.base_url + "static/",
        "static_path": str(PACKAGE_DIR / "static"),
        "template_path": str(PACKAGE_DIR / "templates"),
        "badge_base_url": config.badge_base_url,
    }
    app_settings.update(settings)
    return tornado.web.Application(handlers, **app_settings)


def make_server(app: tornado.web.Application) -> HTTPServer:
    """The HTTP server for *app*: body limits before buffering, header and body timeouts
    (:func:`appbase.web.hardened_server`, settings of ``LauncherConfig``)."""
    config: LauncherConfig = app.settings["launcher"]
    return hardened_server(app, BodyLimits(config.max_body_size), header_timeout=config.header_timeout,
                           body_timeout=config.body_timeout, xheaders=config.trust_xheaders)
