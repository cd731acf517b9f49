"""One admission path: every entry asks :meth:`Admission.admit` and gets a LaunchRequest.

The entries (:data:`ENTRIES`) are ``/build`` (event stream), the ``/v2`` page, ``/launch``,
``/r2d``, ``/repo`` and ``/api/v1/resolve|builds|launches``. For each, in this order:

1. **Spelling.** A ``<provider>/<spec>`` must name a known provider, and no decoding of
   the spec may hold a ``.``/``..`` segment, a backslash or a control character: the spec
   goes into redirects and links, which must stay under ``base_url``.
2. **Who.** Launches need a hub login unless anonymous launches are on; the resource
   (system, flavor, HPC project; the handler checks them against the user's own choices,
   :meth:`launcher.handlers.base.BaseHandler.pick_choice`) and storage path must be valid.
3. **Bans, early.** The request's own spellings (:mod:`launcher.spelling`: every decoding
   stage, Unicode normalised, every spec form of its canonical identifier) against
   ``banned_specs``: a banned target is refused before any lookup.
4. **Rate.** One fixed window per client (the hub user, else the IP) covers every entry
   that resolves, builds, launches or hands out a build token: ``/launch``, ``/v2``,
   ``/build``, ``/api/v1/*``. (``/r2d`` and ``/repo`` only redirect to ``/v2``, which
   counts.) A build token is bound to the client and lives a few minutes; its first use on
   ``/build`` is free because its ``/v2`` page was counted, later uses count.
5. **Resolve** (entries that need the target), holding a place in the quotas.
6. **Bans and allows on the resolved target**: what was asked, the canonical source URL,
   every identifier of the chain and the pinned ``launch_path``, each in all spellings.

Builds and launches then run through :func:`run_with_quotas`, which holds the same quotas
(per user, per target, in total) while the pipeline runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from traitlets import Int, List, Unicode
from traitlets.config import LoggingConfigurable

from fdo.providers import SPEC_PROVIDERS, parse
from fdo.target import LaunchTarget
from launcher import buildtoken, failures
from launcher.config import LauncherConfig
from launcher.failures.classify import admission_failure
from launcher.limits import AdmissionError, Quotas, RateLimiter, SpecPolicy, UsedTokens, client_key
from launcher.pipeline import Event, LaunchRequest, Pipeline
from launcher.spelling import candidates, decodings, target_texts

__all__ = ["ENTRIES", "Admission", "AdmissionError", "Ask", "checked_spec", "run_with_quotas"]

#: entry -> (counts against the rate limit, resolves the target, starts a build/launch)
ENTRIES: dict[str, tuple[bool, bool, bool]] = {
    "build": (True, True, True),  # GET /build/<provider>/<spec> (free once per build token)
    "v2": (True, False, False),  # the loading page: hands out a build token
    "r2d": (False, False, False),  # redirect to /v2
    "repo": (False, False, False),  # redirect to /v2
    "launch": (True, True, False),  # /launch?id=: resolve, redirect to /v2
    "resolve": (True, True, False),  # GET /api/v1/resolve
    "api-build": (True, True, True),  # POST /api/v1/builds
    "api-launch": (True, True, True),  # POST /api/v1/launches
}

#: (identifier) -> target; :meth:`launcher.pipeline.Pipeline.resolve_target`
Resolve = Callable[[str], Awaitable[LaunchTarget]]


@dataclass
class Ask:
    """What one request asks for, as its handler read it (nothing checked yet)."""

    entry: str
    identifier: str = ""  # any identifier (/launch, /api/v1); else provider/spec below
    provider: str = ""
    spec: str = ""  # as requested, still percent-encoded
    client_ip: str = ""
    user: str = ""  # logged-in hub user; "" = anonymous
    system: str = ""  # checked by the handler against what this user may pick
    flavor: str = ""
    project: str = ""  # HPC systems
    account: str = ""
    hpc: dict[str, str] = field(default_factory=dict)  # the checked project and account
    storage_path: str = ""
    name: str = ""
    build_only: bool = False
    build_token: str = ""  # as presented on /build
    token_origin: str = ""  # the origin a build token is (to be) bound to
    launch_host: str = ""
    origin: str = ""
    request_origin: str = ""
    #: the target when it is known already (a relaunch by receipt): admit checks it, resolves nothing
    target: LaunchTarget | None = None
    #: the request named a system or flavor (set before the defaults are filled in)
    resource_given: bool = True
    #: filled by admit: x-ratelimit-* headers for the response
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> str:
        return client_key(self.user, self.client_ip)

    @property
    def display(self) -> str:
        return f"{self.provider}/{self.spec}" if self.provider else self.identifier


def checked_spec(provider: str, spec: str) -> tuple[str, str]:
    """(provider, spec) safe to put after ``<base_url>v2/`` in a redirect or link; a 400
    if the provider is unknown or any decoding of the spec could leave the path."""
    if provider not in SPEC_PROVIDERS:
        raise AdmissionError(400, f"No provider found for prefix {provider[:40]}",
                             reason="identifier_invalid")
    if not spec:
        raise AdmissionError(400, f"empty spec; write {provider}/<...> as in a Binder link",
                             reason="identifier_invalid")
    for stage in decodings(spec):
        parts = stage.replace("\\", "/").split("/")
        if any(p in (".", "..") for p in parts) or "\\" in stage:
            raise AdmissionError(400, "the spec must not contain '.', '..' or '\\' path segments",
                                 reason="identifier_invalid")
        if any(ord(c) < 32 or ord(c) == 127 for c in stage):
            raise AdmissionError(400, "the spec must not contain control characters",
                                 reason="identifier_invalid")
    return provider, spec


def _canonical(text: str) -> str:
    return parse(text).normalized


class Admission(LoggingConfigurable):
    """Who may launch what, how often (``c.Admission.*``; BinderHub's defaults and messages)."""

    rate_limit = Int(
        30,
        help="""Requests per anonymous client (IP) per rate_limit_period, counted over every
        entry that resolves, builds, launches or hands out a build token (/launch, /v2,
        /build, /api/v1/*). A launch from the home page is two (resolve, /v2); BinderHub
        counts only builds, 10 per hour. 0 disables.""",
    ).tag(config=True)

    user_rate_limit = Int(
        0,
        help="""The same for each logged-in hub user (counted per user, not per IP).
        0: no limit for logged-in users (their launches still count in the quotas).""",
    ).tag(config=True)

    rate_limit_period = Int(3600, help="Window of the rate limits in seconds.").tag(config=True)

    allowed_specs = List(
        Unicode(),
        [],
        help="""Regular expressions (re.match, case-insensitive) against every spelling of a
        request and its resolved target (``gh/my-org/...``, ``doi/10.5281/...``,
        ``git/https%3A%2F%2F...``, the source URL, each identifier of the chain); if
        non-empty, one must match for a launch.""",
    ).tag(config=True)

    banned_specs = List(
        Unicode(),
        [],
        help="""Regular expressions matched like allowed_specs; any match refuses the
        request with "Sorry, <spec> is not allowed to launch", whatever its spelling.""",
    ).tag(config=True)

    per_user_quota = Int(
        0, help="""Builds, launches and resolves in progress per user (or client IP when
        anonymous); 0 = no limit."""
    ).tag(config=True)

    per_target_quota = Int(
        0, help="Builds and launches in progress per target; 0 = no limit."
    ).tag(config=True)

    total_quota = Int(0, help="Builds, launches and resolves in progress in total; 0 = no limit.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = RateLimiter(self.rate_limit, self.rate_limit_period)
        self.policy = SpecPolicy(self.allowed_specs, self.banned_specs)
        self.quotas = Quotas(self.per_user_quota, self.per_target_quota, self.total_quota)
        self.used_tokens = UsedTokens()

    @property
    def config_of_launcher(self) -> LauncherConfig:
        parent = self.parent
        return parent if isinstance(parent, LauncherConfig) else LauncherConfig()

    # -- the one path ---------------------------------------------------------------------
    async def admit(self, ask: Ask, resolve: Resolve | None = None) -> LaunchRequest:
        """Check *ask* (see the module doc); the LaunchRequest, with its resolved target
        when the entry resolves, or an :class:`AdmissionError` with a user-facing message."""
        counts, resolves, launches = ENTRIES[ask.entry]
        if ask.provider:
            checked_spec(ask.provider, ask.spec)
        if launches:
            self._check_who(ask)
        asked = [ask.display, ask.identifier] if ask.identifier else [ask.display]
        if self.policy.banned_by(candidates(asked, _canonical)):
            raise SpecPolicy.refusal(ask.display)
        if counts:
            self._count(ask)
        target = ask.target
        if resolves and target is None:
            if resolve is None:
                raise AdmissionError(503, "resolving identifiers is not available on this launcher",
                                     reason="misconfigured")
            with self.quotas.hold(ask.client, ask.display):
                target = await resolve(ask.identifier or ask.display)
        if target is not None and not self.policy.allows(
                candidates([*asked, *target_texts(target)], _canonical)):
            raise SpecPolicy.refusal(ask.display)
        return self._request(ask, target)

    def _check_who(self, ask: Ask) -> None:
        if not (ask.build_only or ask.user or self.config_of_launcher.anonymous):
            raise AdmissionError(403, "Log in to the hub to launch (anonymous launches are disabled here)",
                                 reason="login_required")
        if ask.build_only and not self.config_of_launcher.allow_build_only:
            raise AdmissionError(400, "Building but not launching is not permitted")
        storage = ask.storage_path
        if storage and (not storage.startswith("/") or ".." in storage.split("/")):
            raise AdmissionError(400, "localstoragepath must be an absolute path without '..'",
                                 reason="storage_path")

    def _count(self, ask: Ask) -> None:
        if ask.entry == "build" and ask.build_token and self._token_first_use(ask):
            return  # its /v2 page was counted
        limit = self.user_rate_limit if ask.user else self.rate_limit
        try:
            ask.headers.update(self.rate.check(ask.client, limit))
        except AdmissionError as err:
            ask.headers.update(err.headers)
            raise

    def _token_first_use(self, ask: Ask) -> bool:
        launcher = self.config_of_launcher
        origin = ask.token_origin if launcher.build_token_check_origin else None
        try:
            claims = buildtoken.decode(ask.build_token, launcher.build_token_secret, ask.display,
                                       origin, client=ask.client)
        except buildtoken.BuildTokenError as err:
            raise AdmissionError(403, str(err), reason="access_denied") from err
        jti = str(claims.get("jti") or hashlib.sha256(ask.build_token.encode()).hexdigest())
        return self.used_tokens.first_use(jti, float(claims.get("exp", 0)))

    def issue_token(self, ask: Ask) -> str:
        """A build token for the /v2 page of *ask* (after :meth:`admit`)."""
        launcher = self.config_of_launcher
        return buildtoken.issue(launcher.build_token_secret, ask.display, ask.token_origin,
                                launcher.build_token_expires_seconds, client=ask.client)

    def _request(self, ask: Ask, target: LaunchTarget | None) -> LaunchRequest:
        provider, spec = ask.provider, ask.spec
        if not provider and target is not None and target.launch_path:
            provider, _, spec = target.launch_path.removeprefix("v2/").partition("/")
        return LaunchRequest(
            provider=provider, spec=spec, client_ip=ask.client_ip, launch_host=ask.launch_host,
            user=ask.user, system=ask.system, flavor=ask.flavor, hpc=ask.hpc, storage_path=ask.storage_path,
            name=ask.name[:100], build_only=ask.build_only, build_token=bool(ask.build_token),
            origin=ask.origin, request_origin=ask.request_origin, target=target,
            resource_given=ask.resource_given)


async def run_with_quotas(admission: Admission, pipeline: Pipeline, request: LaunchRequest,
                          source: AsyncIterator[Event] | None = None) -> AsyncIterator[Event]:
    """The pipeline's events (or *source*'s, e.g. a relaunch by receipt) while the request
    holds its place in the quotas; a full quota is one ``failed`` event."""
    try:
        with admission.quotas.hold(client_key(request.user, request.client_ip), request.identifier):
            async for ev in source if source is not None else pipeline.run(request):
                yield ev
    except AdmissionError as err:
        request_id = failures.new_request_id()
        failure = admission_failure(err)
        failures.log_failure(failure, request_id, request.identifier, "admission")
        yield failures.failed_event(failure, request_id)

