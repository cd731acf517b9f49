"""HTML pages: the home form (``/``), the BinderHub-style loading page (``/v2/...``), ``/about``.

The pages are thin: the server renders a small JSON config into a ``data-config``
attribute (HTML-escaped by the template), and the static scripts do the rest with the
JSON API (``/api/v1/resolve``, ``/api/v1/snippets``) and the event stream (``/build/...``).
Every page is sent with a strict Content-Security-Policy: scripts and styles only from
this origin, no inline code, no frames.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlparse

import launcher
from launcher.handlers.base import BaseHandler, UserError, user_required
from launcher.urlpath import UnsafePath, resolve_urlpath

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE_DIR = os.path.join(HERE, "templates")
STATIC_DIR = os.path.join(HERE, "static")

#: query parameters of a /v2/ link that are passed on to the /build/ stream
FORWARDED_PARAMS = ("system", "flavor", "name", "localstoragepath", "project", "account")


def content_security_policy(img_origins: tuple[str, ...] = ()) -> str:
    """The pages' CSP; *img_origins* are extra origins badges may come from."""
    img = " ".join(("'self'", "data:", *img_origins))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def build_query(query: dict[str, str], build_token: str = "") -> str:
    """Query string of the /build/ request a /v2/ page makes (``dataDir`` is the old name)."""
    params = {k: query[k] for k in FORWARDED_PARAMS if query.get(k)}
    if query.get("dataDir") and "localstoragepath" not in params:
        params["localstoragepath"] = query["dataDir"]
    if build_token:
        params["build_token"] = build_token
    return urlencode(params, quote_via=quote)


class PageHandler(BaseHandler):
    """Base of the HTML pages: templates, static URLs and security headers."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        badge = self.settings["launcher"].badge_base_url
        parsed = urlparse(badge) if badge else None
        extra = (f"{parsed.scheme}://{parsed.netloc}",) if parsed and parsed.netloc else ()
        self.set_header("Content-Security-Policy", content_security_policy(extra))
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("X-Frame-Options", "DENY")

    def get_template_path(self) -> str:
        return TEMPLATE_DIR

    def stream_url(self, provider: str, spec: str, query: dict[str, str], token: str) -> str:
        """The stream URL, with the build token and the resource choice; with the XSRF token
        when users log in (an EventSource cannot send headers)."""
        bq = build_query(query, token)
        if self.hub_auth is not None:
            bq += "&" + urlencode({"_xsrf": self.xsrf_token.decode("ascii")})
        return f"{self.base_url}build/{provider}/{spec}?{bq}"

    def render_page(self, template: str, config: dict[str, Any], **kwargs: Any) -> None:
        auth = self.auth_config()
        config = {"base_url": self.base_url, **auth, **config}
        self.render(
            template,
            base_url=self.base_url,
            config_json=json.dumps(config),
            version=launcher.__version__,
            auth=auth,
            **kwargs,
        )


class HomeHandler(PageHandler):
    """The form: paste an identifier, see its provenance, pick a resource, launch, share.

    Where launches need a login, so does the form: what it offers (systems, flavors, the
    person's launches) is the logged-in user's."""

    @user_required
    async def get(self) -> None:
        systems = await self.systems_for_user()
        first = systems[0] if systems else {}
        flavors = first.get("flavors") or [{}]
        config = {
            "systems": systems,
            "default_system": first.get("name", ""),
            "default_flavor": flavors[0].get("name", ""),
            "no_systems": self.no_systems_message(),
        }
        prefill = self.get_argument("id", "")[:2048]
        self.render_page("index.html", config, prefill=prefill)


class LoadingPageHandler(PageHandler):
    """``/v2/<provider>/<spec>``: start the stream at once (``/r2d/...`` redirects here).

    The page is admitted like every entry (it counts against the rate limit and hands out
    a build token bound to this client); a refusal is shown on the page, nothing launched."""

    @user_required
    async def get(self, *args: str) -> None:
        provider, spec = self.get_spec_from_request("v2")
        query = self.launch_query()
        config: dict[str, Any] = {"provider": provider, "spec": spec}
        try:
            config["urlpath"] = resolve_urlpath(query)
            ask = self.ask("v2", provider=provider, spec=spec)
            await self.admit(ask)
            token = self.state.admission.issue_token(ask)
            config["build_url"] = self.stream_url(provider, spec, query, token)
        except UnsafePath as err:
            # like BinderHub's page: a bad link is reported, nothing is launched
            self.set_status(400)
            config["error"] = f"400: Bad Request: {err}"
        except UserError as err:
            self.set_status(err.status_code)
            config["error"] = f"{err.status_code}: {err.user_message}"
        self.render_page(
            "loading.html",
            config,
            provider=provider,
            spec_display=unquote(spec),
            system=query.get("system", ""),
            flavor=query.get("flavor", ""),
        )

class AboutHandler(PageHandler):
    def get(self) -> None:
        self.render_page("about.html", {})


default_handlers = [
    (r"", HomeHandler),
    (r"v2/([^/]+)/(.+)", LoadingPageHandler),
    (r"about", AboutHandler),
]
