"""The counting parts of admission: rate windows, concurrency quotas, spec patterns, used
build tokens. In-process and cheap (a dict lookup per request); BinderHub's messages, so
existing clients understand them. :mod:`launcher.admission` decides when each applies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def client_key(user: str, ip: str) -> str:
    """Whom a limit counts: the logged-in hub user, else the client's IP address."""
    return f"user:{user}" if user else f"ip:{ip}"


class AdmissionError(Exception):
    """A refused request; ``str()`` is the user-facing message, ``reason`` its failure
    reason (:data:`launcher.failures.REASONS`)."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None,
                 reason: str = ""):
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers or {}
        self.reason = reason


@dataclass
class _Window:
    reset: float
    remaining: int


class RateLimiter:
    """Fixed-window request counter per client key; ``x-ratelimit-*`` headers, 429."""

    def __init__(self, limit: int, period: int, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self._windows: dict[str, _Window] = {}

    def _expire(self, now: float) -> None:
        # bounded memory: drop finished windows once the table grows
        if len(self._windows) > 10000:
            self._windows = {k: w for k, w in self._windows.items() if w.reset > now}

    def check(self, key: str, limit: int | None = None) -> dict[str, str]:
        """Count one request of *key*; return the x-ratelimit headers or raise a 429."""
        limit = self.limit if limit is None else limit
        if limit <= 0:
            return {}
        now = self.clock()
        self._expire(now)
        window = self._windows.get(key)
        if window is None or window.reset <= now:
            window = self._windows[key] = _Window(reset=now + self.period, remaining=limit)
        window.remaining -= 1
        reset_in = max(0, int(window.reset - now + 0.999))
        headers = {
            "x-ratelimit-remaining": str(max(0, window.remaining)),
            "x-ratelimit-reset": str(int(time.time()) + reset_in),
            "x-ratelimit-limit": str(limit),
        }
        if window.remaining < 0:
            raise AdmissionError(429, f"Rate limit exceeded. Try again in {reset_in} seconds.", headers,
                                 "rate_limited")
        return headers


class SpecPolicy:
    """Allow/deny regexes (re.match, case-insensitive) against the candidate spellings of
    a request (:mod:`launcher.spelling`): banned if any candidate matches a ban; with an
    allow list, allowed only if some candidate matches an allow pattern."""

    def __init__(self, allowed: list[str], banned: list[str]):
        self.allowed = [re.compile(p, re.IGNORECASE) for p in allowed]
        self.banned = [re.compile(p, re.IGNORECASE) for p in banned]

    def banned_by(self, candidates: Iterable[str]) -> bool:
        return any(p.match(c) for c in candidates for p in self.banned)

    def allows(self, candidates: Iterable[str]) -> bool:
        forms = list(candidates)
        if self.banned_by(forms):
            return False
        return not self.allowed or any(p.match(c) for c in forms for p in self.allowed)

    @staticmethod
    def refusal(display: str) -> AdmissionError:
        return AdmissionError(
            403, f"Sorry, {display} is not allowed to launch. Please contact admins for more info!",
            reason="launch_not_allowed")


class Quotas:
    """Counts operations in progress; :meth:`hold` refuses one that would exceed a quota."""

    def __init__(self, per_user: int, per_target: int, total: int):
        self.per_user, self.per_target, self.total = per_user, per_target, total
        self.by_user: dict[str, int] = {}
        self.by_target: dict[str, int] = {}
        self.in_progress = 0

    def _check(self, user: str, target: str) -> None:
        if self.total and self.in_progress >= self.total:
            raise AdmissionError(429, "Too many users on this launcher! Try again soon.",
                                 reason="quota_exceeded")
        if self.per_target and self.by_target.get(target, 0) >= self.per_target:
            raise AdmissionError(429, f"Too many users running {target}! Try again soon.",
                                 reason="quota_exceeded")
        if self.per_user and self.by_user.get(user, 0) >= self.per_user:
            raise AdmissionError(
                429, f"You already have {self.by_user[user]} launches in progress; wait for one to finish.",
                reason="quota_exceeded")

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


class UsedTokens:
    """Build token ids seen until their expiry: a token's first use is free (its page was
    counted), every later use is counted like any request."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._seen: dict[str, float] = {}

    def first_use(self, jti: str, expires: float) -> bool:
        now = self.clock()
        if len(self._seen) > 10000:
            self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
        if jti in self._seen:
            return False
        self._seen[jti] = expires
        return True
