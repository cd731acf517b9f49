"""What a Slurm start tells the hub while it waits: each ``squeue`` answer becomes a spawn
event ("queued in partition X, position N", "running on node Y"), and a job that ended
before its server listened is explained from its last state and the tail of its log.

The wording is :mod:`outpost.backends.slurm_spec`'s (pure); this module holds the state of
one start (the last answer, the last event sent, the queue position, asked for at most
every few seconds) and runs the two extra commands it needs as the job's account.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import Awaitable, Callable

from outpost.backends import slurm_spec as spec
from outpost.backends.base import Progress
from outpost.backends.slurm_spawner import OutpostSlurmSpawner

#: runs argv as the job's account (``SlurmBackend._as_user``): (user, argv, timeout) -> stdout
RunAs = Callable[..., Awaitable[str]]


class StartWatch:
    """Turns each squeue answer during a start into (deduplicated) spawn events and keeps
    the last one, to explain a job that ended before its server listened."""

    position_interval = 3.0

    def __init__(self, spawner: OutpostSlurmSpawner, progress: Progress, image: str,
                 job_user: str, *, run_as: RunAs, running_poll_interval: float) -> None:
        self.spawner, self.progress = spawner, progress
        self.image, self.job_user = image, job_user
        self.run_as, self.running_poll_interval = run_as, running_poll_interval
        self.last = spec.JobStatus()
        self.job_id = ""
        self.sent = ""
        self.position: int | None = None
        self.position_at = 0.0

    async def on_status(self, status: spec.JobStatus) -> None:
        self.job_id = self.spawner.job_id or self.job_id
        if status.state:
            self.last = status
        if status.state == "RUNNING":
            self.spawner.startup_poll_interval = self.running_poll_interval
        if status.state == "PENDING":
            await self._update_position(status.partition)
        percent, message = spec.progress_message(status, self.position, self.image)
        if message != self.sent and status.state:
            self.sent = message
            await self.progress(percent, message)

    async def _update_position(self, partition: str) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self.position_at < self.position_interval:
            return
        self.position_at = loop.time()
        try:
            out = await self.run_as(self.job_user, [
                "squeue", "-h", "-t", "PD", "-p", partition, "-o", "%i", "--sort=-p,i"], 20)
        except RuntimeError:
            return
        ids = out.split()
        self.position = ids.index(self.job_id) + 1 if self.job_id in ids else None

    def describe(self) -> str:
        return (f"Slurm job {self.job_id or '(not submitted)'}, last state "
                f"{self.last.state or 'unknown'} {self.last.reason}".rstrip())

    async def failure(self, error: BaseException) -> str:
        """The message the user sees for a start that did not reach a listening server."""
        if not self.job_id:
            text = str(error).strip() or type(error).__name__
            return f"Could not submit the Slurm job: {text}"
        user_dir = self.spawner.req_homedir
        tail: list[str] = []
        with contextlib.suppress(RuntimeError):
            path = posixpath.join(user_dir, "logs", f"slurm-{self.job_id}.log")
            tail = (await self.run_as(self.job_user, ["tail", "-n", "20", path])
                    ).splitlines()
        return spec.failure_message(self.job_id, self.last, tail)
