"""BinderHub's event-stream grammar: encoding, event constructors, and a validator.

Wire format (``text/event-stream``): each event is ``data: <json>\\n\\n``; idle streams
get ``:keepalive\\n\\n`` comments; every ``message`` ends in ``\\n``. Phases, in order::

    waiting -> (fetching | building | pushing | unknown | no phase)* -> built
            -> launching+ -> ready          (or build_only: built -> ready+imageName)
    failed  may end the stream at any point; it carries ``status_code``, ``reason`` and
            ``request_id`` (:mod:`launcher.failures`).

:func:`validate_stream` checks a parsed stream against these rules; the tests run it on
the streams captured from a real BinderHub and on ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Event = dict[str, Any]

KEEPALIVE = b":keepalive\n\n"

PHASES = ("waiting", "fetching", "building", "pushing", "unknown", "built", "launching", "ready", "failed")
BUILD_LOG_PHASES = {"fetching", "building", "pushing", "unknown", None}

#: keys of the ``ready`` event after a launch (BinderHub) — ours add target/system/flavor
READY_KEYS = ("url", "token", "image", "repo_url", "binder_ref_url", "binder_launch_host",
              "binder_request", "binder_persistent_request", "binder_client_ip")


def _line(message: str) -> str:
    return message if message.endswith("\n") else message + "\n"


def event(phase: str | None, message: str, **fields: Any) -> Event:
    """One event; *message* gets its trailing newline."""
    data: Event = {} if phase is None else {"phase": phase}
    data["message"] = _line(message)
    data.update(fields)
    return data


def waiting(message: str = "Waiting for build to start...") -> Event:
    return event("waiting", message)


def built(image: str, cached: bool) -> Event:
    message = "Found built image, launching..." if cached else "Built image, launching..."
    return event("built", message, imageName=image)


def launching(message: str) -> Event:
    return event("launching", message)


def failed(message: str, status_code: int | None = None, reason: str | None = None,
           **fields: Any) -> Event:
    """The final event of a failed request; *reason* is one of
    :data:`launcher.failures.REASONS` (the pipeline adds ``request_id``, ``next_action``
    and ``attempts``, see :func:`launcher.failures.failed_event`)."""
    data = event("failed", message)
    if status_code is not None:
        data["status_code"] = status_code
    if reason is not None:
        data["reason"] = reason
    data.update(fields)
    return data


def encode(data: Event) -> bytes:
    """``data: <json>\\n\\n`` — JSON escapes "<", ">" and "&" so no echoed spec is HTML."""
    text = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return b"data: " + text.encode("utf-8") + b"\n\n"


# -- parsing and validation ------------------------------------------------------------
def parse_stream(body: str) -> tuple[list[Event], int]:
    """Parse a raw event-stream body into (events, number of comment lines)."""
    events: list[Event] = []
    comments = 0
    for line in body.split("\n"):
        if not line:
            continue
        if line.startswith(":"):
            comments += 1
        elif line.startswith("data:"):
            payload = json.loads(line[5:].lstrip(" "))
            if not isinstance(payload, dict):
                raise ValueError(f"event is not a JSON object: {line[:80]!r}")
            events.append(payload)
        else:
            raise ValueError(f"not an event-stream line: {line[:80]!r}")
    return events, comments


_RANK = {"waiting": 0, "build-log": 1, "built": 2, "launching": 3, "ready": 4}


def _rank(phase: str | None) -> int:
    return _RANK["build-log"] if phase in BUILD_LOG_PHASES else _RANK[str(phase)]


def validate_stream(events: Iterable[Event], build_only: bool = False) -> list[str]:
    """Return the grammar violations of a stream (empty list: valid)."""
    items = list(events)
    problems: list[str] = []
    if not items:
        return ["empty stream"]
    last_rank = -1
    for i, ev in enumerate(items):
        phase = ev.get("phase")
        msg = ev.get("message")
        where = f"event {i} ({phase})"
        if phase is not None and phase not in PHASES:
            problems.append(f"{where}: unknown phase")
            continue
        if not isinstance(msg, str) or not msg.endswith("\n"):
            if not (phase == "failed" and msg is None):
                problems.append(f"{where}: message must be a string ending in newline")
        if phase == "failed":
            if i != len(items) - 1:
                problems.append(f"{where}: failed must be the last event")
            if "status_code" in ev and not isinstance(ev["status_code"], int):
                problems.append(f"{where}: status_code must be an integer")
            continue
        rank = _rank(phase)
        if rank < last_rank:
            problems.append(f"{where}: phase out of order")
        last_rank = max(last_rank, rank)
        problems.extend(_check_fields(ev, where, build_only, items, i))
    if items[-1].get("phase") not in ("ready", "failed"):
        problems.append("stream does not end with ready or failed")
    return problems


def _check_fields(ev: Event, where: str, build_only: bool, items: list[Event], i: int) -> list[str]:
    phase = ev.get("phase")
    problems: list[str] = []
    if phase == "built" and not isinstance(ev.get("imageName"), str):
        problems.append(f"{where}: built needs imageName")
    if phase == "ready":
        if i != len(items) - 1:
            problems.append(f"{where}: ready must be the last event")
        if build_only:
            if not isinstance(ev.get("imageName"), str):
                problems.append(f"{where}: build-only ready needs imageName")
        else:
            missing = [k for k in READY_KEYS if k not in ev]
            if missing:
                problems.append(f"{where}: ready lacks {missing}")
            if not str(ev.get("message", "")).startswith("server running at "):
                problems.append(f"{where}: ready message must be 'server running at <url>'")
            if not any(e.get("phase") == "launching" for e in items[:i]):
                problems.append(f"{where}: ready without launching events")
            if not any(e.get("phase") == "built" for e in items[:i]):
                problems.append(f"{where}: ready without built event")
    return problems
