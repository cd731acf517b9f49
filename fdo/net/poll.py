"""Bounded polling for content that upstream services prepare on demand.

Software Heritage cooks vault bundles and HydroShare zips BagIt bags only when asked;
both are polled, never waited for without a bound: at most ``max_polls`` requests and
no new request once ``max_seconds`` have passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PollLimits:
    """How often and how long to ask again."""

    interval: float
    max_seconds: float
    max_polls: int

    def describe(self) -> str:
        return f"{self.max_polls} requests or {self.max_seconds:.0f} s"


def poll_until(
    check: Callable[[], T | None],
    limits: PollLimits,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """Call ``check`` until it returns a value; ``None`` when the limits ran out first.

    ``check`` is called at least once; it raises to stop polling with an error.
    """
    deadline = clock() + max(0.0, limits.max_seconds)
    polls = max(1, limits.max_polls)
    for n in range(polls):
        result = check()
        if result is not None:
            return result
        remaining = deadline - clock()
        if n + 1 >= polls or remaining <= 0:
            break
        sleep(min(max(0.0, limits.interval), remaining))
    return None
