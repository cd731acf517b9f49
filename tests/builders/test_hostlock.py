"""HostLock: one owner per image on a host, followers replay its log, crashes free the lock."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from builders.events import BuildEvent, Phase
from builders.hostlock import HostLock

HOLDER = """
import sys, time
from pathlib import Path
from builders.events import BuildEvent, Phase
from builders.hostlock import HostLock
lock = HostLock(Path(sys.argv[1]), "img:tag")
assert lock.try_acquire()
lock.append(BuildEvent(Phase.BUILDING, "step 1 of a builder that will crash"))
print("locked", flush=True)
time.sleep(120)
"""


async def test_follower_replays_owner_log_until_result(tmp_path: Path) -> None:
    owner, follower = HostLock(tmp_path, "img:tag"), HostLock(tmp_path, "img:tag")
    assert owner.try_acquire()
    assert not follower.try_acquire()
    assert not follower.try_probe()
    owner.append(BuildEvent(Phase.BUILDING, "step 1"))
    task = asyncio.create_task(_collect(follower))
    await asyncio.sleep(0.5)
    owner.append(BuildEvent(Phase.BUILT, "done", image="img:tag@sha256:1"))
    owner.release()
    events = await asyncio.wait_for(task, 10)
    assert [e.message for e in events] == ["step 1\n", "done\n"]
    assert events[-1].image == "img:tag@sha256:1"
    assert follower.try_acquire()  # free again, and the next owner starts a fresh log
    follower.release()


async def test_crashed_owner_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        follower = HostLock(tmp_path, "img:tag")
        task = asyncio.create_task(_collect(follower))
        await asyncio.sleep(0.5)
        proc.kill()  # SIGKILL: no cleanup runs; the kernel drops the flock
        events = await asyncio.wait_for(task, 10)
    finally:
        proc.kill()
        proc.wait(10)
    assert [e.message for e in events] == ["step 1 of a builder that will crash\n"]
    assert not any(e.terminal for e in events)  # no result: the caller builds itself
    assert follower.try_acquire()
    follower.release()


async def _collect(lock: HostLock) -> list[BuildEvent]:
    return [e async for e in lock.follow(poll=0.05)]
