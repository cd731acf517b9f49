"""Builds and launches started through ``/api/v1``, kept in the launcher's store.

A job is one :meth:`Pipeline.run` in the background, addressed by a random id. Its row
in the ``jobs`` table (:mod:`launcher.store`) holds the request, the last events and the
status, so another replica, or this launcher after a restart, still answers for it.

Who runs a job: the process that started it (``owner``: host, pid and the process's
start time) heartbeats its running jobs. A running job whose owner is gone (same host:
the process is not there any more; another host: no heartbeat for three intervals) is
finished as ``failed`` with a message saying the launcher restarted; its build was
stopped with the launcher (repo2docker dies with the process that started it), so
starting it again builds it once, or follows the build pod that still runs it.

Events are written in batches (at most every :attr:`Jobs.flush_interval` seconds, and at
once when a job ends), so a build log of thousands of lines is not thousands of writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from fdo.target import LaunchTarget
from launcher import failures
from launcher.pipeline import Event, LaunchRequest
from launcher.store import Store, metadata

jobs_table = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "build" | "launch"
    sa.Column("status", sa.String(16), nullable=False, index=True),  # running | ready | failed
    sa.Column("identifier", sa.Text, nullable=False),
    sa.Column("user_name", sa.String(255), nullable=False, default=""),
    sa.Column("request", sa.Text, nullable=False),  # LaunchRequest as JSON
    sa.Column("events", sa.Text, nullable=False),  # the last Jobs.max_events events, JSON
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False, index=True),
    sa.Column("owner", sa.String(255), nullable=False, index=True),
    sa.Column("heartbeat", sa.Float, nullable=False),
)

Runner = Callable[[LaunchRequest], AsyncIterator[Event]]

_REQUEST_FIELDS = {f.name for f in dataclasses.fields(LaunchRequest)}
FAILURE_KEYS = ("reason", "request_id", "next_action", "attempts", "retry_after")


@dataclass
class Job:
    id: str
    kind: str  # "build" | "launch"
    request: LaunchRequest
    owner: str
    created: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)
    status: str = "running"  # running | ready | failed

    def to_json(self) -> dict[str, Any]:
        """The API's view: status, phase, events; ``result`` or ``message`` once done."""
        last = self.events[-1] if self.events else {}
        data: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "status": self.status,
            "identifier": self.request.identifier, "system": self.request.system,
            "flavor": self.request.flavor, "phase": last.get("phase"), "events": self.events,
        }
        if self.status == "ready":
            data["result"] = last
        if self.status == "failed":
            data["message"] = str(last.get("message", "")).rstrip("\n")
            data["status_code"] = last.get("status_code", 500)
            # what a program acts on (launcher.failures): reason, request id, next action
            data.update({k: last[k] for k in FAILURE_KEYS if k in last})
        return data

    def record(self, ev: Event, max_events: int) -> None:
        self.events.append(ev)
        del self.events[:-max_events]
        if ev.get("phase") in ("ready", "failed"):
            self.status = str(ev["phase"])


# -- pure row <-> job ----------------------------------------------------------------------
def job_row(job: Job, now: float) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status,
            "identifier": job.request.identifier, "user_name": job.request.user,
            "request": json.dumps(request_json(job.request)),
            "events": json.dumps(job.events), "created": job.created, "updated": now,
            "owner": job.owner, "heartbeat": now}


def request_json(request: LaunchRequest) -> dict[str, Any]:
    data = {f: getattr(request, f) for f in _REQUEST_FIELDS if f != "target"}
    data["target"] = request.target.to_json() if request.target is not None else None
    return data


def job_from_row(row: Any) -> Job:
    stored = json.loads(row.request)
    target = stored.pop("target", None)
    # fields added to LaunchRequest later default; fields removed since are dropped
    request = LaunchRequest(**{k: v for k, v in stored.items() if k in _REQUEST_FIELDS})
    if target:
        request.target = LaunchTarget.from_json(target)
    return Job(id=row.id, kind=row.kind, request=request, owner=row.owner, created=row.created,
               events=json.loads(row.events), status=row.status)


# -- who owns a job ------------------------------------------------------------------------
def _process_start(pid: int) -> str:
    """The start time of process *pid* (clock ticks since boot), "" if there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return ""
    # the command name (field 2) may contain spaces and ")": fields after the last ")"
    return stat.rpartition(")")[2].split()[19]


def owner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def owner_gone(owner: str, heartbeat: float, now: float, interval: float,
               host: str | None = None, start_of: Callable[[int], str] = _process_start) -> bool:
    """Is the process that runs a job gone? On this host we can look (a pid reused by
    another process has another start time); elsewhere its heartbeat tells (missed three
    times = gone)."""
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and parts[0] == (host or socket.gethostname()) and parts[1].isdigit():
        return not parts[2] or start_of(int(parts[1])) != parts[2]
    return now - heartbeat > 3 * interval


def restarted_message(kind: str) -> str:
    # true for both executors: a local build died with the launcher, a build pod may still
    # run (then the retry follows it instead of building again)
    return (f"The launcher restarted while this {kind} was in progress, so this request was "
            f"lost. Start the {kind} again.")


def stopped_message(kind: str) -> str:
    return f"The launcher was stopped while this {kind} was in progress. Start the {kind} again."


def ended(message: str, reason: str) -> Event:
    """The ``failed`` event of a job the launcher itself ended (its own request id)."""
    request_id = failures.new_request_id()
    return failures.failed_event(failures.fail(reason, message, for_person=True), request_id)


# -- database access (run through Store.call) -----------------------------------------------
def _insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(jobs_table.insert().values(**row))


def _update(conn: Connection, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(jobs_table.update().where(jobs_table.c.id == row["id"]).values(
            status=row["status"], events=row["events"], updated=row["updated"],
            heartbeat=row["heartbeat"]))


def _select(conn: Connection, job_id: str) -> Any:
    return conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).first()


def _running_elsewhere(conn: Connection, me: str) -> list[Any]:
    query = sa.select(jobs_table).where(jobs_table.c.status == "running", jobs_table.c.owner != me)
    return list(conn.execute(query))


def _beat(conn: Connection, me: str, now: float, forget_before: float) -> None:
    conn.execute(jobs_table.update().where(jobs_table.c.owner == me, jobs_table.c.status == "running")
                 .values(heartbeat=now))
    conn.execute(jobs_table.delete().where(jobs_table.c.status != "running",
                                           jobs_table.c.updated < forget_before))


class Jobs(LoggingConfigurable):
    """Start, follow and look up jobs; the store keeps them across restarts."""

    max_events = Int(500, help="Events kept per job (the oldest are dropped).").tag(config=True)

    keep_finished_seconds = Int(
        7 * 24 * 3600, help="Finished jobs are forgotten this many seconds after their last event."
    ).tag(config=True)

    heartbeat_interval = Float(
        10.0,
        help="""Seconds between heartbeats of this process's running jobs. A job of another
        host whose heartbeat is older than three intervals is reported as failed.""",
    ).tag(config=True)

    flush_interval = Float(
        0.5, help="Longest delay (seconds) before a running job's new events reach the store."
    ).tag(config=True)

    def __init__(self, store: Store, runner: Runner, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.runner = runner
        self.owner = owner_id()
        self._live: dict[str, Job] = {}  # jobs this process runs
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._loop_task: asyncio.Task[None] | None = None

    # -- public -------------------------------------------------------------------------
    async def start(self, kind: str, request: LaunchRequest) -> Job:
        """Record a new job and run it in the background."""
        self._ensure_loop()
        job = Job(id=secrets.token_urlsafe(16), kind=kind, request=request, owner=self.owner)
        await self.store.call(_insert, job_row(job, time.time()))
        self._live[job.id] = job
        self._tasks[job.id] = asyncio.ensure_future(self._run(job))
        return job

    async def get(self, job_id: str) -> Job | None:
        """The job as this process knows it, else as the store has it (stale ones failed)."""
        live = self._live.get(job_id)
        if live is not None:
            return live
        row = await self.store.call(_select, job_id)
        if row is None:
            return None
        job = job_from_row(row)
        if job.status == "running" and owner_gone(row.owner, row.heartbeat, time.time(),
                                                  self.heartbeat_interval):
            await self._fail_orphan(job)
        return job

    async def recover(self) -> int:
        """Fail the running jobs whose owner is gone; returns how many."""
        rows = await self.store.call(_running_elsewhere, self.owner)
        now = time.time()
        orphans = [job_from_row(r) for r in rows
                   if owner_gone(r.owner, r.heartbeat, now, self.heartbeat_interval)]
        for job in orphans:
            await self._fail_orphan(job)
        return len(orphans)

    async def close(self) -> None:
        """Stop this process's jobs (each ends ``failed``) and write everything out."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for job in self._live.values():  # cancelled before its first step
            if job.status == "running":
                job.record(ended(stopped_message(job.kind), "launcher_restarted"), self.max_events)
                self._dirty.add(job.id)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        await self._flush()

    # -- running ------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        try:
            async for ev in self.runner(job.request):
                job.record(ev, self.max_events)
                self._dirty.add(job.id)
        except asyncio.CancelledError:
            job.record(ended(stopped_message(job.kind), "launcher_restarted"), self.max_events)
        except Exception:  # the runner ends in a failed event; this is a bug, still end the job
            self.log.exception("job %s crashed", job.id)
            job.record(ended("", "internal_error"), self.max_events)
        finally:
            if job.status == "running":
                job.record(ended("", "internal_error"), self.max_events)
            self._dirty.add(job.id)
            self._tasks.pop(job.id, None)
            try:
                await asyncio.shield(self._flush())
            except Exception:  # the store is down: the background loop keeps trying
                self.log.exception("could not store the end of job %s", job.id)

    async def _fail_orphan(self, job: Job) -> None:
        job.record(ended(restarted_message(job.kind), "launcher_restarted"), self.max_events)
        self.log.warning("job %s (%s of %s) was left running by %s; reported as failed",
                         job.id, job.kind, job.request.identifier, job.owner)
        await self.store.call(_update, [job_row(job, time.time())])

    def _ensure_loop(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.ensure_future(self._background())

    async def _background(self) -> None:
        """Flush events often; heartbeat, reap orphans and forget old jobs now and then."""
        last_beat = 0.0
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self._flush()
                now = time.time()
                if now - last_beat >= self.heartbeat_interval:
                    last_beat = now
                    await self.store.call(_beat, self.owner, now, now - self.keep_finished_seconds)
                    await self.recover()
            except Exception:  # the database may be down for a while; keep trying
                self.log.exception("writing jobs to the store failed; retrying")

    async def _flush(self) -> None:
        if not self._dirty:
            return
        ids, self._dirty = self._dirty, set()
        now = time.time()
        rows = [job_row(self._live[i], now) for i in ids if i in self._live]
        try:
            await self.store.call(_update, rows)
        except Exception:
            self._dirty |= ids  # written with the next flush
            raise
        for i in ids:  # a finished job is the store's from now on
            if i in self._live and self._live[i].status != "running":
                del self._live[i]
