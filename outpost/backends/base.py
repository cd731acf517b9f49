"""The interface between the Outpost's REST layer and a real JupyterHub spawner.

A backend is stateless between calls: everything it needs to poll or stop a server is
in the :class:`~outpost.store.Record` (the spawner's ``get_state()`` included), so an
Outpost that restarts keeps control of the servers it started.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from traitlets.config import LoggingConfigurable

from outpost.mapping import SpawnSettings
from outpost.store import Record

#: ``await progress(percent, message)`` — forwarded to the hub as a spawn event.
Progress = Callable[[int, str], Awaitable[None]]


@dataclass
class StartRequest:
    record: Record
    settings: SpawnSettings
    env: dict[str, str]
    user_options: dict[str, Any] = field(default_factory=dict)


class Backend(LoggingConfigurable):
    """Start, poll and stop single-user servers; ``record.state`` carries their state."""

    @abstractmethod
    async def start(self, request: StartRequest, progress: Progress) -> str:
        """Start the server; return ``"host:port"``. Sets ``request.record.state``.

        On failure it raises, after removing whatever it had created.
        """

    @abstractmethod
    async def poll(self, record: Record) -> int | None:
        """``None`` while running, else an exit status."""

    @abstractmethod
    async def stop(self, record: Record) -> None:
        """Stop and remove the server (its persistent volume stays)."""

    @abstractmethod
    async def logs(self, record: Record) -> list[str]:
        """The server's last log lines (empty if unknown)."""
