"""Who may launch what, how often: rate limit, allow/deny patterns, concurrency quotas.

All three are in-process and cheap (a dict lookup per request). They mirror BinderHub's
behaviour and messages so existing clients understand them:

- :class:`RateLimiter` — fixed window per client IP, ``x-ratelimit-*`` headers, 429
  "Rate limit exceeded. Try again in N seconds."; not applied to authenticated users or
  requests with a valid build token.
- :class:`SpecPolicy` — ``allowed_specs``/``banned_specs`` regexes against
  ``<provider>/<spec>``; "Sorry, <spec> is not allowed to launch. Please contact admins
  for more info!".
- :class:`Quotas` — concurrent launches per user, per target and in total.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from traitlets import Int, List, Unicode
from traitlets.config import LoggingConfigurable

from launcher import events
from launcher.pipeline import Event, LaunchRequest, Pipeline


class AdmissionError(Exception):
    """A refused request; ``str()`` is the user-facing message."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers or {}


@dataclass
class _Window:
    reset: float
    remaining: int


class RateLimiter:
    """Fixed-window request counter per key (client IP)."""

    def __init__(self, limit: int, period: int, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self._windows: dict[str, _Window] = {}

    def _expire(self, now: float) -> None:
        # bounded memory: drop finished windows once the table grows
        if len(self._windows) > 10000:
            self._windows = {k: w for k, w in self._windows.items() if w.reset > now}

    def check(self, key: str) -> dict[str, str]:
        """Count one request; return the x-ratelimit headers or raise a 429."""
        if self.limit <= 0:
            return {}
        now = self.clock()
        self._expire(now)
        window = self._windows.get(key)
        if window is None or window.reset <= now:
            window = self._windows[key] = _Window(reset=now + self.period, remaining=self.limit)
        window.remaining -= 1
        reset_in = max(0, int(window.reset - now + 0.999))
        headers = {
            "x-ratelimit-remaining": str(max(0, window.remaining)),
            "x-ratelimit-reset": str(int(time.time()) + reset_in),
            "x-ratelimit-limit": str(self.limit),
        }
        if window.remaining < 0:
            raise AdmissionError(429, f"Rate limit exceeded. Try again in {reset_in} seconds.", headers)
        return headers


class SpecPolicy:
    """Allow/deny regexes against ``<provider>/<spec>`` (re.match, case-insensitive)."""

    def __init__(self, allowed: list[str], banned: list[str]):
        self.allowed = [re.compile(p, re.IGNORECASE) for p in allowed]
        self.banned = [re.compile(p, re.IGNORECASE) for p in banned]

    def is_allowed(self, spec: str) -> bool:
        if any(p.match(spec) for p in self.banned):
            return False
        return not self.allowed or any(p.match(spec) for p in self.allowed)

    def check(self, spec: str) -> None:
        if not self.is_allowed(spec):
            raise AdmissionError(
                403, f"Sorry, {spec} is not allowed to launch. Please contact admins for more info!"
            )


class Quotas:
    """Counts launches in progress; :meth:`hold` refuses one that would exceed a quota."""

    def __init__(self, per_user: int, per_target: int, total: int):
        self.per_user, self.per_target, self.total = per_user, per_target, total
        self.by_user: dict[str, int] = {}
        self.by_target: dict[str, int] = {}
        self.in_progress = 0

    def _check(self, user: str, target: str) -> None:
        if self.total and self.in_progress >= self.total:
            raise AdmissionError(429, "Too many users on this launcher! Try again soon.")
        if self.per_target and self.by_target.get(target, 0) >= self.per_target:
            raise AdmissionError(429, f"Too many users running {target}! Try again soon.")
        if self.per_user and self.by_user.get(user, 0) >= self.per_user:
            raise AdmissionError(
                429, f"You already have {self.by_user[user]} launches in progress; wait for one to finish."
            )

    @contextmanager
    def hold(self, user: str, target: str) -> Iterator[None]:
        self._check(user, target)
        self.in_progress += 1
        self.by_user[user] = self.by_user.get(user, 0) + 1
        self.by_target[target] = self.by_target.get(target, 0) + 1
        try:
            yield
        finally:
            self.in_progress -= 1
            for table, key in ((self.by_user, user), (self.by_target, target)):
                table[key] -= 1
                if not table[key]:
                    del table[key]


class Admission(LoggingConfigurable):
    """Who may launch what, how often: the three checks, with their settings
    (``c.Admission.*``; BinderHub's defaults and messages)."""

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = RateLimiter(self.rate_limit, self.rate_limit_period)
        self.policy = SpecPolicy(self.allowed_specs, self.banned_specs)
        self.quotas = Quotas(self.per_user_quota, self.per_target_quota, self.total_quota)


async def run_with_quotas(admission: Admission, pipeline: Pipeline,
                          request: LaunchRequest) -> AsyncIterator[Event]:
    """The pipeline's events while the request holds its place in the quotas; a full
    quota is one ``failed`` event."""
    try:
        with admission.quotas.hold(request.user or request.client_ip, request.identifier):
            async for ev in pipeline.run(request):
                yield ev
    except AdmissionError as err:
        yield events.failed(str(err), err.status_code)
