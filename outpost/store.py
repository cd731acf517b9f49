"""The Outpost's memory: one SQLite row per started service (stdlib ``sqlite3``).

A row holds what is needed to find, poll and stop the server after a restart: the
wrapped spawner's ``get_state()``, the spawn settings and the hub's environment without
secrets (tokens are never written to disk). Every lookup is keyed by the hub's identity,
so one hub never sees another's services.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS service (
    hub TEXT NOT NULL,
    name TEXT NOT NULL,
    start_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    flavor TEXT NOT NULL DEFAULT '',
    start_date REAL NOT NULL,
    end_date REAL,
    last_update REAL NOT NULL,
    start_pending INTEGER NOT NULL DEFAULT 1,
    stop_pending INTEGER NOT NULL DEFAULT 0,
    service TEXT NOT NULL DEFAULT '',
    env TEXT NOT NULL DEFAULT '{}',
    settings TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (hub, name, start_id)
);
"""


def public_env(env: dict[str, str]) -> dict[str, str]:
    """The env without secrets, safe to store."""
    secret = ("TOKEN", "SECRET", "PASSWORD", "KEY")
    return {k: v for k, v in env.items() if not any(s in k.upper() for s in secret)}


@dataclass
class Record:
    hub: str
    name: str
    start_id: str
    user_id: str
    user_name: str
    flavor: str = ""
    start_date: float = field(default_factory=time.time)
    end_date: float | None = None
    last_update: float = field(default_factory=time.time)
    start_pending: bool = True
    stop_pending: bool = False
    service: str = ""
    env: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The ``GET /services/`` list entry (upstream field names)."""
        def iso(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        return {"name": self.name, "start_id": self.start_id, "jupyterhub": self.hub,
                "jupyterhub_userid": self.user_id, "flavor": self.flavor,
                "start_date": iso(self.start_date), "end_date": iso(self.end_date),
                "last_update": iso(self.last_update), "state_stored": bool(self.state),
                "start_pending": self.start_pending, "stop_pending": self.stop_pending}


_JSON = ("env", "settings", "state")
# Named in every SELECT/INSERT, so databases with the former ``error`` column still work.
_COLUMNS = ("hub", "name", "start_id", "user_id", "user_name", "flavor", "start_date",
            "end_date", "last_update", "start_pending", "stop_pending", "service", *_JSON)


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Created private: it names users and their containers.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: durable across process crashes, no fsync on every commit.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _row(self, row: tuple[Any, ...]) -> Record:
        data = dict(zip(_COLUMNS, row, strict=True))
        for key in _JSON:
            data[key] = json.loads(data[key])
        data["start_pending"] = bool(data["start_pending"])
        data["stop_pending"] = bool(data["stop_pending"])
        return Record(**data)

    def put(self, rec: Record) -> None:
        rec.last_update = time.time()
        values = [getattr(rec, c) for c in _COLUMNS]
        for i, c in enumerate(_COLUMNS):
            if c in _JSON:
                values[i] = json.dumps(values[i] if c != "env" else public_env(values[i]))
        marks = ",".join("?" * len(_COLUMNS))
        self.db.execute(f"INSERT OR REPLACE INTO service ({','.join(_COLUMNS)}) "
                        f"VALUES ({marks})", values)

    def get(self, hub: str, name: str, start_id: str) -> Record | None:
        cur = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM service "
                              "WHERE hub=? AND name=? AND start_id=?", (hub, name, start_id))
        row = cur.fetchone()
        return self._row(row) if row else None

    def latest(self, hub: str, name: str) -> Record | None:
        """The newest start of *name* (for requests that omit the start id)."""
        cur = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM service WHERE hub=? AND "
                              "name=? ORDER BY start_date DESC LIMIT 1", (hub, name))
        row = cur.fetchone()
        return self._row(row) if row else None

    def delete(self, hub: str, name: str, start_id: str) -> None:
        self.db.execute("DELETE FROM service WHERE hub=? AND name=? AND start_id=?",
                        (hub, name, start_id))

    def records(self, hub: str | None = None) -> list[Record]:
        sql = f"SELECT {','.join(_COLUMNS)} FROM service"
        args: tuple[str, ...] = ()
        if hub is not None:
            sql += " WHERE hub=?"
            args = (hub,)
        return [self._row(r) for r in self.db.execute(sql + " ORDER BY start_date", args)]

    def count(self, flavor: str, hub: str | None = None, user_id: str | None = None) -> int:
        """Servers of *flavor*: all, one hub's, or one user's of one hub."""
        sql, args = "SELECT COUNT(*) FROM service WHERE flavor=?", [flavor]
        if hub is not None:
            sql += " AND hub=?"
            args.append(hub)
        if user_id is not None:
            sql += " AND user_id=?"
            args.append(user_id)
        return int(self.db.execute(sql, args).fetchone()[0])

    def expired(self, now: float) -> list[Record]:
        """Started servers past their end date (a start still in progress ends itself, or
        is stopped by the next check after it finished)."""
        cur = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM service WHERE end_date IS NOT "
                              "NULL AND end_date < ? AND stop_pending=0 AND start_pending=0",
                              (now,))
        return [self._row(r) for r in cur]
