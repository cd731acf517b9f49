"""Cross-process dedupe on one host: a lock file per image and a shared log.

The process that wins the ``flock`` on ``<state>/locks/<key>.lock`` builds; it writes
its run id into the lock file and every event as a JSON line into
``<state>/locks/<key>.<run>.log``. Other processes (a second ``nfdi-launcher build``, a
second launcher replica on the same host) tail that log and report the same events
and result. The OS drops the lock when the builder dies, so a crash leaves no stale
lock: followers notice the free lock without a final event and build themselves.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from builders.events import BuildEvent


class HostLock:
    """The lock and shared log of one image on this host."""

    def __init__(self, state_dir: Path, image: str) -> None:
        self.dir = state_dir / "locks"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = hashlib.sha256(image.encode()).hexdigest()[:32]
        self.lock_path = self.dir / f"{self.key}.lock"
        self._fd: int | None = None
        self._log: IO[str] | None = None

    def _log_path(self, run: str) -> Path:
        return self.dir / f"{self.key}.{run}.log"

    def try_acquire(self) -> bool:
        """Take the lock without waiting; on success start a fresh shared log."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        run = uuid.uuid4().hex
        # log first, then its name: a follower that reads the run id always finds the log
        self._log = self._log_path(run).open("a", encoding="utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"run": run, "pid": os.getpid()}).encode(), 0)
        for old in self.dir.glob(f"{self.key}.*.log"):
            if old.name != self._log_path(run).name:
                old.unlink(missing_ok=True)  # followers of an old run keep their open file
        return True

    def append(self, event: BuildEvent) -> None:
        if self._log is not None:
            self._log.write(event.dumps() + "\n")
            self._log.flush()

    def release(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # no run id of a finished run is ever read as current
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def try_probe(self) -> bool:
        """True if nobody holds the lock right now (probe without keeping it)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True

    def owner(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.lock_path.read_text() or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    async def follow(self, poll: float = 0.2) -> AsyncIterator[BuildEvent]:
        """Events of the current owner's run; stops after a terminal event, or when
        the lock is free and the log has nothing more (the owner died)."""
        owner = None
        for _ in range(50):  # the owner writes its run id right after locking
            owner = self.owner()
            if owner or self.try_probe():
                break
            await asyncio.sleep(0.1)
        if not owner:
            return
        try:
            log = self._log_path(str(owner["run"])).open(encoding="utf-8")
        except OSError:
            return
        with log:
            buffer = ""
            owner_gone = False
            while True:
                chunk = log.read()
                if chunk:
                    buffer += chunk
                    *lines, buffer = buffer.split("\n")
                    for line in lines:
                        event = BuildEvent.from_json(json.loads(line))
                        yield event
                        if event.terminal:
                            return
                    continue
                if owner_gone:
                    return  # lock free and log drained without a result: owner crashed
                # read once more after seeing the lock free: the last lines may be in flight
                owner_gone = self.try_probe()
                if not owner_gone:
                    await asyncio.sleep(poll)
