"""``OIDCAuthenticator``: oauthenticator's GenericOAuthenticator for an OpenID Provider
such as the NFDI Infrastructure Proxy (IAM4NFDI), configured from its discovery document.

What it adds to GenericOAuthenticator (17.x):

- endpoints from ``<issuer>/.well-known/openid-configuration``, fetched at the first
  login (the hub starts even while the provider is down; a login then says so);
- the id_token of every login checked: signature against the provider's keys, issuer,
  audience, expiry (:mod:`launcher.login.idtoken`), and its ``sub`` equal to userinfo's;
- entitlements mapped to groups and HPC resources (:class:`EntitlementMapper`), the
  groups managed as JupyterHub groups;
- each system's Outpost asked which flavors the user may use (``POST /userflavors``),
  the answers kept as ``auth_state.outpost_flavors``, so the OutpostSpawner sends the
  user's ``authentication`` at every start and the Outpost enforces its rules;
- a small ``auth_state`` (:mod:`launcher.login.rights`): the access token only (needed to
  confirm the login with the provider again), no refresh token, no id_token, a few
  claims — not the whole token response and userinfo;
- rights re-confirmed with the provider before every start (``refresh_pre_spawn``); a
  provider that cannot confirm them means no start (``rights_max_age``);
- logout revokes the access token (when the provider offers revocation) and ends the
  session at the provider's ``end_session_endpoint``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler, OAuthLogoutHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Bool, Float, List, Unicode, default

from launcher.login.discovery import Provider, ProviderMetadata, ProviderUnavailable
from launcher.login.entitlements import EntitlementMapper
from launcher.login.idtoken import IdTokenError, UnknownKey, verify_id_token
from launcher.login.rights import outpost_flavors
from launcher.systems import load_systems


class OIDCLoginHandler(OAuthLoginHandler):  # type: ignore[misc]
    """Reads the provider's discovery document before sending the browser there: a
    provider that is down gets a clear page here, not a browser error there."""

    async def get(self) -> None:
        await self.authenticator.load_provider(refresh=True)
        super().get()


class OIDCLogoutHandler(OAuthLogoutHandler):  # type: ignore[misc]
    """Forgets the user's tokens, then ends the session at the provider."""

    async def handle_logout(self) -> None:
        await super().handle_logout()
        if self.current_user:
            await self.authenticator.forget_tokens(self.current_user)

    async def render_logout_page(self) -> None:
        url = self.authenticator.end_session_url()
        if url:
            self.redirect(url)
            return
        await super().render_logout_page()


class OIDCAuthenticator(GenericOAuthenticator):  # type: ignore[misc]
    login_handler = OIDCLoginHandler
    logout_handler = OIDCLogoutHandler

    issuer = Unicode(
        "",
        help="""The OpenID Provider's issuer URL, e.g.
        ``https://infraproxy.nfdi-aai.dfn.de`` for the NFDI Infrastructure Proxy; its
        ``/.well-known/openid-configuration`` gives every endpoint. https, except on a
        loopback host.""",
    ).tag(config=True)

    entitlements_claim = Unicode(
        "eduperson_entitlement",
        help="""The userinfo claim holding the AARC entitlements (IAM4NFDI and Helmholtz
        ID: ``eduperson_entitlement``; some providers use ``entitlements``).""",
    ).tag(config=True)

    kept_claims = List(
        Unicode(),
        ["sub", "name", "preferred_username", "email"],
        help="""Userinfo claims kept in ``auth_state.oauth_user`` (``sub`` always).
        Everything else of the userinfo answer is dropped.""",
    ).tag(config=True)

    systems_file = Unicode(
        "",
        help="""The systems file (:mod:`launcher.systems`) naming each system's Outpost;
        each is asked ``POST /userflavors`` at login. Empty: no per-user flavors.""",
    ).tag(config=True)

    userflavors_timeout = Float(
        5.0, help="Seconds to wait for one Outpost's ``/userflavors`` answer."
    ).tag(config=True)

    provider_timeout = Float(
        5.0, help="Seconds to wait for the provider's discovery, keys, token and userinfo."
    ).tag(config=True)

    rights_max_age = Float(
        120.0,
        help="""A start needs the login confirmed by the provider within this many
        seconds (the hub does that right before each start, ``refresh_pre_spawn``). If
        the provider cannot confirm it, the start is refused rather than made with
        rights that may have been withdrawn.""",
    ).tag(config=True)

    forward_access_token = Bool(
        False,
        help="""Keep the access token as ``auth_state.access_token``, which the
        OutpostSpawner sends to the Outposts (needed by UNICORE-style HPC Outposts that
        act with the user's token). Default: kept under another key and sent nowhere.""",
    ).tag(config=True)

    access_help = Unicode(
        "",
        help="""Added to refusals caused by a user's rights, e.g. "Ask
        support@example.org for access to HPC projects." """,
    ).tag(config=True)

    post_logout_redirect_url = Unicode(
        "",
        help="""Where the provider sends the browser after logout (must be registered
        with the provider). Default: the hub's login page, next to ``oauth_callback_url``.""",
    ).tag(config=True)

    @default("username_claim")
    def _username_claim_default(self) -> str:
        return "sub"  # the one claim OIDC guarantees unique and stable per issuer

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email", "eduperson_entitlement"]

    @default("login_service")
    def _login_service_default(self) -> str:
        return "OpenID Connect"

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        return True

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("refresh_pre_spawn")
    def _refresh_pre_spawn_default(self) -> bool:
        return True

    @default("auth_state_groups_key")
    def _groups_key_default(self) -> Any:
        return lambda auth_state: list(auth_state.get("groups") or [])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mapper = EntitlementMapper(parent=self)
        self.provider = Provider(self.issuer, timeout=self.provider_timeout,
                                 validate_cert=self.validate_server_cert)
        self.meta: ProviderMetadata | None = None
        if not self.http_request_kwargs:
            self.http_request_kwargs: dict[str, Any] = {"connect_timeout": self.provider_timeout,
                                        "request_timeout": self.provider_timeout}

    @property
    def token_key(self) -> str:
        return "access_token" if self.forward_access_token else "userinfo_token"

    # -- the provider ---------------------------------------------------------------
    async def load_provider(self, refresh: bool = False) -> ProviderMetadata:
        """Endpoints from discovery (cached unless *refresh*); a 503 for the person if
        the provider cannot be reached."""
        try:
            meta = await self.provider.metadata(refresh=refresh)
        except ProviderUnavailable as e:
            self.log.warning("OIDC discovery failed: %s", e)
            raise web.HTTPError(503, f"Logging in is not possible right now: {e}. Please "
                                     "try again later.") from e
        self.authorize_url, self.token_url = meta.authorization_endpoint, meta.token_endpoint
        self.userdata_url, self.meta = meta.userinfo_endpoint, meta
        return meta

    async def verified_claims(self, id_token: Any) -> dict[str, Any]:
        meta = await self.load_provider()
        try:
            try:
                keys = await self.provider.jwks()
                return verify_id_token(id_token, keys, issuer=meta.issuer,
                                       client_id=self.client_id, algorithms=meta.algorithms)
            except UnknownKey:  # the provider may have rotated its keys
                keys = await self.provider.jwks(refresh=True)
                return verify_id_token(id_token, keys, issuer=meta.issuer,
                                       client_id=self.client_id, algorithms=meta.algorithms)
        except IdTokenError as e:
            self.log.warning("login refused: %s", e)
            raise web.HTTPError(403, f"Login refused: {e}.") from e
        except ProviderUnavailable as e:
            raise web.HTTPError(503, f"Logging in is not possible right now: {e}.") from e

    # -- login and refresh -----------------------------------------------------------
    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> Any:
        await self.load_provider()
        params = self.build_access_tokens_request_params(handler, data)
        try:
            token_info = await self.get_token_info(handler, params)
            claims = await self.verified_claims(token_info.get("id_token"))
            model = await self._token_to_auth_model(token_info)
        except (HTTPClientError, OSError) as e:
            code = getattr(e, "code", 599)
            self.log.warning("OIDC login failed at the provider: %s", e)
            if code != 599 and code < 500:
                raise web.HTTPError(403, "The login service refused the login; please "
                                         "start again.") from e
            raise web.HTTPError(503, "The login service cannot be reached right now; "
                                     "please try again later.") from e
        if model["auth_state"]["oauth_user"].get("sub") != claims["sub"]:
            raise web.HTTPError(403, "Login refused: userinfo and id_token name different "
                                     "users.")
        return model

    async def build_auth_state_dict(self, token_info: dict[str, Any],
                                    user_info: dict[str, Any]) -> dict[str, Any]:
        """The small auth_state of :mod:`launcher.login.rights` (no refresh/id token)."""
        name = self.normalize_username(self.user_info_to_username(user_info))
        rights = self.mapper.map(user_info.get(self.entitlements_claim) or [])
        kept = {k: user_info[k] for k in {"sub", *self.kept_claims} if k in user_info}
        state: dict[str, Any] = {
            "name": name, "groups": list(rights.groups), **rights.to_json(),
            "entitlements": list(rights.accepted),
            "confirmed_at": time.time(), "oauth_user": kept,
            self.token_key: token_info["access_token"],
            "token_expires_at": time.time() + float(token_info.get("expires_in") or 3600),
        }
        if self.systems_file:
            state["outpost_flavors"] = await outpost_flavors(
                load_systems(self.systems_file), name, state["groups"],
                self.userflavors_timeout)
        return state

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """Ask the provider again (userinfo with the kept access token): fresh rights, or
        False (log in again) when the token is expired or refused. A provider that does
        not answer leaves the session, but the rights unconfirmed: no start until it
        answers again (:func:`launcher.login.rights.check_start`)."""
        auth_state = await user.get_auth_state()
        token = (auth_state or {}).get(self.token_key)
        if not token or time.time() > float(auth_state.get("token_expires_at") or 0):
            return False
        try:
            await self.load_provider()
            left = float(auth_state["token_expires_at"]) - time.time()
            return await self._token_to_auth_model(
                {"access_token": token, "token_type": "Bearer", "expires_in": left})
        except HTTPClientError as e:
            if e.code != 599 and 400 <= e.code < 500:
                return False
            problem: Exception = e
        except (web.HTTPError, OSError) as e:
            problem = e
        self.log.warning("could not confirm %s's login with the provider: %s", user.name,
                         problem)
        auth_state["confirmed_at"] = 0
        await user.save_auth_state(auth_state)
        return True

    # -- logout ------------------------------------------------------------------------
    async def forget_tokens(self, user: Any) -> None:
        """Revoke (if offered) and drop the user's access token; rights unconfirmed."""
        auth_state = await user.get_auth_state()
        if not auth_state:
            return
        token = auth_state.pop(self.token_key, None)
        auth_state["confirmed_at"] = 0
        await user.save_auth_state(auth_state)
        if token and self.meta and self.meta.revocation_endpoint:
            body = urlencode({"token": token, "token_type_hint": "access_token",
                              "client_id": self.client_id,
                              "client_secret": self.client_secret})
            request = HTTPRequest(self.meta.revocation_endpoint, method="POST", body=body,
                                  request_timeout=self.provider_timeout,
                                  validate_cert=self.validate_server_cert)
            try:
                await AsyncHTTPClient().fetch(request, raise_error=False)
            except OSError as e:
                self.log.warning("could not revoke the access token: %s", type(e).__name__)

    def end_session_url(self) -> str:
        if not (self.meta and self.meta.end_session_endpoint):
            return ""
        after = self.post_logout_redirect_url or self.oauth_callback_url.replace(
            "/oauth_callback", "/login")
        query = {"client_id": self.client_id}
        if after:
            query["post_logout_redirect_uri"] = after
        return f"{self.meta.end_session_endpoint}?{urlencode(query)}"
