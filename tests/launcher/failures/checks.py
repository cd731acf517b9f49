"""What every failure test asserts about the final ``failed`` event (issue 18)."""

from __future__ import annotations

import re
from typing import Any

from launcher import events
from launcher.failures import REASONS, Kind

#: what a person must never read: addresses, ports, code names, library error text
_INTERNAL = [
    (re.compile(r"\w+://\w"), "a URL"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "an IP address"),
    (re.compile(r"(?:\w|\]):\d{2,5}\b"), "a port"),
    (re.compile(r"\blocalhost\b"), "localhost"),
    (re.compile(r"\b\w*(?:Error|Exception)\b"), "an exception class"),
    (re.compile(r"\b[a-z_]+\.[a-z_]+\.[A-Za-z_]+"), "a module path"),
    (re.compile(r"Errno|Traceback|HTTP \d{3}"), "library text"),
]


def assert_person_message(message: str) -> None:
    for pattern, what in _INTERNAL:
        assert not pattern.search(message), f"the message shows {what}: {message!r}"


def assert_final(evs: list[dict[str, Any]], reason: str, build_only: bool = False) -> dict[str, Any]:
    """The stream ended in one failed event of *reason*, fit for a person; a failure that
    retrying cannot help was tried once. Returns the event."""
    assert events.validate_stream(evs, build_only=build_only) == [], evs[-3:]
    final = evs[-1]
    assert final["phase"] == "failed", final
    assert final["reason"] == reason, final
    info = REASONS[reason]
    assert final["status_code"] == info.status, final
    assert final["next_action"] == info.action.value, final
    assert final["message"].rstrip("\n").endswith(f"Request id: {final['request_id']}."), final
    assert_person_message(final["message"])
    retries = [e for e in evs if "trying again" in str(e.get("message", ""))]
    if info.kind is not Kind.TRANSIENT:
        assert final["attempts"] == 1 and retries == [], (final, retries)
    return final
