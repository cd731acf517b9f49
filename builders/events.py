"""Build progress events in BinderHub's grammar.

The launcher streams these as Server-Sent Events (``data: <json>``). Phases and
payloads follow BinderHub's event stream: ``waiting``, ``fetching``, ``building``,
``pushing``, ``built`` (with ``imageName``), ``failed``; repo2docker's own
``--json-logs`` lines pass through with their phase, non-JSON lines become
``unknown``, JSON lines without a phase keep no phase (BinderHub forwards them as is).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_PUSH_LINE = re.compile(r"^#\d+ (pushing|exporting manifest|exporting config)")


class Phase(StrEnum):
    """Phases of a build as BinderHub names them (value = wire string)."""

    WAITING = "waiting"
    FETCHING = "fetching"
    BUILDING = "building"
    PUSHING = "pushing"
    BUILT = "built"
    FAILED = "failed"
    #: a log line that was not JSON (BinderHub wraps those the same way)
    UNKNOWN = "unknown"
    #: a repo2docker JSON line without a phase (e.g. "Picked Local content provider.")
    NONE = ""

    @property
    def terminal(self) -> bool:
        return self in (Phase.BUILT, Phase.FAILED)


@dataclass(frozen=True)
class BuildEvent:
    """One progress event of a build.

    Parameters
    ----------
    phase:
        The phase; :attr:`Phase.BUILT` and :attr:`Phase.FAILED` end a stream.
    message:
        Human-readable text, always ending in ``"\\n"``.
    image:
        On ``BUILT``: the image reference, with ``@sha256:<manifest digest>`` when the
        image is in a registry (``name:tag@sha256:...``); a plain ``name:tag`` when it
        lives only in the local engine's image store.
    cached:
        On ``BUILT``: True when an existing image was found and nothing was built.
    extra:
        Further JSON fields passed through from repo2docker (``progress``, ``layers``)
        or added by the builder (``status_code`` on failures, ``image_id``).
    """

    phase: Phase
    message: str
    image: str | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message.endswith("\n"):
            object.__setattr__(self, "message", self.message + "\n")

    @property
    def terminal(self) -> bool:
        return self.phase.terminal

    def to_json(self) -> dict[str, Any]:
        """The BinderHub event dict (``imageName`` on ``built``)."""
        data: dict[str, Any] = dict(self.extra)
        if self.phase is not Phase.NONE:
            data["phase"] = self.phase.value
        data["message"] = self.message
        if self.image is not None:
            data["imageName"] = self.image
        if self.phase is Phase.BUILT:
            data["cached"] = self.cached
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildEvent:
        """Inverse of :meth:`to_json` (used to share logs between processes)."""
        rest = {
            k: v for k, v in data.items() if k not in ("phase", "message", "imageName", "cached")
        }
        return cls(
            phase=_phase(data.get("phase")),
            message=str(data.get("message", "")),
            image=data.get("imageName"),
            cached=bool(data.get("cached", False)),
            extra=rest,
        )


def _phase(value: Any) -> Phase:
    if value is None:
        return Phase.NONE
    text = str(value).lower()
    if text == "failure":  # repo2docker's spelling in some versions
        return Phase.FAILED
    try:
        return Phase(text)
    except ValueError:
        return Phase.UNKNOWN


def parse_repo2docker_line(line: str) -> BuildEvent:
    """Turn one line of ``repo2docker --json-logs`` output into an event.

    JSON lines keep their phase (unknown phase names become ``unknown``); anything
    else is wrapped as ``{"phase": "unknown", "message": line}`` like BinderHub does.
    A repo2docker ``failed`` line is reported as phase ``building`` with
    ``extra["r2d_failed"]``: the executor decides the final outcome from the exit
    status, so a single stream never carries two terminal events.
    """
    text = line.rstrip("\r\n")
    try:
        data = json.loads(text)
    except ValueError:
        return BuildEvent(Phase.UNKNOWN, text)
    if not isinstance(data, dict):
        return BuildEvent(Phase.UNKNOWN, text)
    event = BuildEvent.from_json(data)
    if event.phase is Phase.BUILDING and _PUSH_LINE.match(event.message):
        # repo2docker >= 2025.08 pushes inside the buildx build; keep BinderHub's phase
        return BuildEvent(Phase.PUSHING, event.message, extra=event.extra)
    if event.terminal:
        extra = dict(event.extra, r2d_failed=event.phase is Phase.FAILED)
        return BuildEvent(Phase.BUILDING, event.message, extra=extra)
    return event
