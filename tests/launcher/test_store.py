"""The launcher's store on SQLite and on a real PostgreSQL server: settings, tables, jobs
that survive the process that started them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from launcher import events
from launcher.jobs import Job, Jobs, job_row, jobs_table, owner_gone, restarted_message
from launcher.pipeline import LaunchRequest
from launcher.store import Store, normalize_url, redacted
from tests.harness.postgres import Postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'launcher.sqlite'}"
        return
    pg: Postgres = request.getfixturevalue("postgres")
    yield pg.url
    engine = sa.create_engine(normalize_url(pg.url))
    with engine.begin() as conn:  # each test starts from an empty database
        conn.execute(sa.text("DROP TABLE IF EXISTS jobs"))
    engine.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url=db_url)
    s.start()
    yield s
    s.close()


async def steps(*phases: str, pause: float = 0.0) -> AsyncIterator[events.Event]:
    for phase in phases:
        await asyncio.sleep(pause)
        yield events.failed("no", 400) if phase == "failed" else events.event(phase, f"{phase}...")


def request(spec: str = "o/r/abc") -> LaunchRequest:
    return LaunchRequest(provider="gh", spec=spec, user="alice", system="local")


# -- settings ------------------------------------------------------------------------------
def test_default_is_a_sqlite_file_in_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NFDI_LAUNCHER_DB_URL", raising=False)
    s = Store(state_dir=str(tmp_path / "state"))
    assert s.db_url == f"sqlite:///{tmp_path / 'state' / 'launcher.sqlite'}"
    s.start()
    s.close()
    assert (tmp_path / "state" / "launcher.sqlite").is_file()


def test_the_charts_environment_variable_names_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NFDI_LAUNCHER_DB_URL", "postgresql://launcher:pw@db:5432/launcher")
    assert Store().db_url == "postgresql+psycopg://launcher:pw@db:5432/launcher"


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "not a url"])
def test_unsupported_urls_are_refused_when_configured(url: str) -> None:
    with pytest.raises(Exception, match="Store.db_url"):
        Store(db_url=url)


def test_an_unreachable_database_is_named_without_its_password() -> None:
    s = Store(db_url="postgresql://launcher:hunter2secret@127.0.0.1:1/launcher")
    with pytest.raises(RuntimeError) as info:
        s.start()
    assert "hunter2secret" not in str(info.value)
    assert "127.0.0.1:1/launcher" in str(info.value)
    assert "hunter2secret" not in redacted(s.db_url)


def test_tables_are_created_once(store: Store) -> None:
    store.start()  # a second start (another replica) finds the tables
    with store.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobs_table)).scalar() == 0


def test_processes_starting_together_on_a_new_database_all_start(db_url: str) -> None:
    # Two `nfdi-launcher build` runs (or two replicas) open one new database at once.
    at = time.time() + 2.0
    code = textwrap.dedent(f"""
        import time
        from launcher.store import Store
        time.sleep(max(0.0, {at!r} - time.time()))
        Store(db_url={db_url!r}).start()
        """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors


# -- jobs ----------------------------------------------------------------------------------
async def wait_status(jobs: Jobs, job_id: str, timeout: float = 10) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await jobs.get(job_id)
        assert job is not None
        if job.status != "running" or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


async def test_a_finished_job_is_answered_by_the_next_process(store: Store, db_url: str) -> None:
    jobs = Jobs(store, lambda _r: steps("waiting", "built", "ready"))
    job = await jobs.start("launch", request())
    assert (await wait_status(jobs, job.id)).status == "ready"
    await jobs.close()
    later = Store(db_url=db_url)  # a new process: only the database is shared
    later.start()
    again = await Jobs(later, lambda _r: steps()).get(job.id)
    later.close()
    assert again is not None
    assert again.to_json()["result"]["phase"] == "ready"
    assert [e["phase"] for e in again.events] == ["waiting", "built", "ready"]
    assert again.request == request()


async def test_events_reach_the_store_while_the_job_runs(store: Store) -> None:
    jobs = Jobs(store, lambda _r: steps("waiting", "building", "building", pause=0.4), flush_interval=0.1)
    job = await jobs.start("build", request())
    await asyncio.sleep(1.0)
    with store.begin() as conn:
        row = conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job.id)).one()
    assert row.status == "running"
    assert '"building"' in row.events
    await jobs.close()


async def test_stopping_the_launcher_fails_its_running_jobs(store: Store) -> None:
    jobs = Jobs(store, lambda _r: steps("waiting", "building", pause=30))
    job = await jobs.start("build", request())
    await jobs.close()
    again = await Jobs(store, lambda _r: steps()).get(job.id)
    assert again is not None
    assert again.status == "failed"
    assert "was stopped while this build was in progress" in again.to_json()["message"]


async def test_a_job_of_a_killed_process_is_reported_failed(store: Store, db_url: str, tmp_path: Path) -> None:
    """A real process starts a job and is killed with SIGKILL; the next one tells."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from launcher import events
        from launcher.jobs import Jobs
        from launcher.pipeline import LaunchRequest
        from launcher.store import Store

        async def forever(_r):
            yield events.event("building", "Step 1/9")
            await asyncio.sleep(3600)
            yield events.event("ready", "never")

        async def main():
            store = Store(db_url={db_url!r})
            store.start()
            jobs = Jobs(store, forever, flush_interval=0.05)
            job = await jobs.start("build", LaunchRequest(provider="gh", spec="o/r/abc"))
            await asyncio.sleep(0.5)
            print(job.id, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).parents[2]))
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip()
    running = await Jobs(store, lambda _r: steps()).get(job_id)
    assert running is not None
    assert running.status == "running"  # its owner lives
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    restarted = Jobs(store, lambda _r: steps())
    assert await restarted.recover() == 1
    job = await restarted.get(job_id)
    assert job is not None
    assert job.status == "failed"
    told = job.to_json()
    assert told["message"] == f"{restarted_message('build')} Request id: {told['request_id']}."
    assert (told["reason"], told["next_action"]) == ("launcher_restarted", "try_again")
    assert job.events[0]["message"].strip() == "Step 1/9"  # what happened before stays readable


async def test_another_hosts_job_fails_only_when_its_heartbeat_stops(store: Store) -> None:
    jobs = Jobs(store, lambda _r: steps(), heartbeat_interval=1)
    now = time.time()
    for job_id, beat in (("fresh", now), ("stale", now - 10)):
        job = Job(id=job_id, kind="launch", request=request(), owner="other-host:1:123")
        row = job_row(job, beat)
        with store.begin() as conn:
            conn.execute(jobs_table.insert().values(**row))
    assert await jobs.recover() == 1
    fresh, stale = await jobs.get("fresh"), await jobs.get("stale")
    assert fresh is not None
    assert stale is not None
    assert fresh.status == "running"
    assert stale.status == "failed"


def test_owner_liveness_on_this_host() -> None:
    me = f"{os.uname().nodename}:{os.getpid()}"
    from launcher.jobs import owner_id

    assert not owner_gone(owner_id(), 0, time.time(), 10)  # me, even without heartbeats
    assert owner_gone(f"{me}:1", time.time(), time.time(), 10)  # pid reused by another process
    assert owner_gone(f"{os.uname().nodename}:99999999:5", time.time(), time.time(), 10)


async def test_finished_jobs_are_forgotten_after_the_retention(store: Store) -> None:
    old = Job(id="old", kind="build", request=request(), owner="h:1:1", status="ready")
    with store.begin() as conn:
        conn.execute(jobs_table.insert().values(**job_row(old, time.time() - 100)))
    jobs = Jobs(store, lambda _r: steps("ready"), keep_finished_seconds=50, heartbeat_interval=0.1,
                flush_interval=0.05)
    job = await jobs.start("build", request())
    await asyncio.sleep(0.5)
    assert await jobs.get("old") is None
    assert await jobs.get(job.id) is not None
    await jobs.close()
