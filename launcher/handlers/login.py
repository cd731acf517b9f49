"""Log in and out of the launcher (a JupyterHub service), and the OAuth callback.

- ``/login?next=<path>``: through the hub's login (HubOAuth), then back to *next* (a path of
  this launcher only; anything else goes to the home page — no open redirect);
- ``/logout``: forget the launcher's login cookie, then log out of the hub;
- ``/oauth_callback``: JupyterHub's :class:`~jupyterhub.services.auth.HubOAuthCallbackHandler`
  on the application's one :class:`~jupyterhub.services.auth.HubOAuth` (the one whose memory
  holds the PKCE verifier of the login that is coming back).
"""

from __future__ import annotations

from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler
from tornado import web

from launcher.handlers.base import BaseHandler, UserError


def safe_next(target: str, base_url: str) -> str:
    """*target* if it is a path below *base_url*, else *base_url* (pure; no open redirect:
    "//host", "/\\host", schemes and other paths of the origin are refused)."""
    if (target.startswith(base_url) and not target.startswith("//")
            and "\\" not in target and not any(c < " " for c in target)):
        return target
    return base_url


class LoginHandler(BaseHandler):
    @web.authenticated
    def get(self) -> None:
        self.redirect(safe_next(self.get_argument("next", ""), self.base_url))

    def get_login_url(self) -> str:
        if self.hub_auth is None:
            raise UserError(404, "this launcher has no login (it is not a JupyterHub service)")
        return super().get_login_url()


class LogoutHandler(BaseHandler):
    def get(self) -> None:
        if self.hub_auth is None:
            self.redirect(self.base_url)
            return
        self.hub_auth.clear_cookie(self)
        self.clear_cookie("_xsrf", path=self.hub_auth.base_url)
        self.redirect(self.hub_auth.hub_host + self.hub_auth.hub_prefix + "logout")


class OAuthCallbackHandler(HubOAuthCallbackHandler):  # type: ignore[misc]
    @property
    def hub_auth(self) -> Any:
        return self.settings["state"].hub_auth


default_handlers = [
    (r"login", LoginHandler),
    (r"logout", LogoutHandler),
]
