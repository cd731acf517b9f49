"""The interface between the Outpost's REST layer and a real JupyterHub spawner.

A backend is stateless between calls: everything it needs to poll or stop a server is
in the :class:`~outpost.store.Record` (the spawner's ``get_state()`` included), so an
Outpost that restarts keeps control of the servers it started.

The start contract (every backend gets it from the manager, :mod:`outpost.manager`):

1. :meth:`Backend.start` starts the server and returns the address the hub will connect
   to (``"host:port"``), as soon as the server *process* runs — it does not wait for the
   server to listen. It reports ``progress`` (e.g. "container started").
2. The Outpost then polls :meth:`Backend.health_url` — by default
   ``http://<that address><base URL>api``, exactly what JupyterHub checks after a start —
   every ``Outpost.ready_check_interval`` s, until it answers ``200`` with the Jupyter
   server's API JSON. Meanwhile it asks :meth:`Backend.poll` now and then, so a server that
   exits fails the start at once, with :meth:`Backend.logs` in the message. Then it reports
   "server listening" and answers ``POST /services``: the hub's first check succeeds.
3. Steps 1 and 2 together are bounded by the flavor's ``start_timeout`` (seconds), else
   :attr:`Backend.start_timeout`. On failure or timeout the Outpost stops the server
   (:meth:`Backend.stop`) and forgets the start.

A backend whose servers the Outpost reaches differently from the hub (e.g. Slurm jobs
behind the hub's SSH tunnel, reached here through the Outpost's own tunnel or directly on
the compute node) overrides :meth:`health_url` to return that URL, with the same base URL.
Returning ``None`` (or ``ready_check = False``) leaves readiness to the hub's own polling.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from traitlets import Bool, Float
from traitlets.config import LoggingConfigurable

from outpost.mapping import SpawnSettings
from outpost.readiness import health_url, service_prefix
from outpost.store import Record

#: ``await progress(percent, message)`` — forwarded to the hub as a spawn event.
Progress = Callable[[int, str], Awaitable[None]]


def _no_checkpoint() -> None:
    return None


@dataclass
class StartRequest:
    record: Record
    settings: SpawnSettings
    env: dict[str, str]
    user_options: dict[str, Any] = field(default_factory=dict)
    #: seconds the whole start may take (the flavor's ``start_timeout``); None: the backend's
    start_timeout: float | None = None
    #: the flavor as flavors.yaml gives it to this hub and user (backends read ``resources``)
    flavor: dict[str, Any] = field(default_factory=dict)
    #: saves ``record`` (with the state set so far) before the start is over, so that a
    #: restarted Outpost can remove what a cut-short start created (e.g. a queued job)
    checkpoint: Callable[[], None] = _no_checkpoint


class Backend(LoggingConfigurable):
    """Start, poll and stop single-user servers; ``record.state`` carries their state."""

    start_timeout = Float(
        120.0,
        help="""Seconds a start may take until the server answers its health URL (image
        pull, start, and the wait for the server to listen), unless the flavor sets
        ``start_timeout``. Keep it below the hub's ``Spawner.start_timeout``.""",
    ).tag(config=True)

    ready_check = Bool(
        True,
        help="""Answer the hub's start only once the server answers at the URL the hub
        will check (see ``health_url``). Off: answer as soon as the server process runs
        and leave the wait to the hub's polling (slower, with seconds of jitter).""",
    ).tag(config=True)

    @abstractmethod
    async def start(self, request: StartRequest, progress: Progress) -> str:
        """Start the server; return ``"host:port"``. Sets ``request.record.state``.

        On failure it raises, after removing whatever it had created.
        """

    def health_url(self, record: Record, service: str) -> str | None:
        """Where the Outpost checks that the server answers (``None``: no check)."""
        if not self.ready_check:
            return None
        return health_url(service, service_prefix(record.env))

    @abstractmethod
    async def poll(self, record: Record) -> int | None:
        """``None`` while running, else an exit status."""

    @abstractmethod
    async def stop(self, record: Record) -> None:
        """Stop and remove the server (its persistent volume stays)."""

    @abstractmethod
    async def logs(self, record: Record) -> list[str]:
        """The server's last log lines (empty if unknown)."""
