"""The launcher's store: the state a restarted launcher (or another replica) must still see.

One relational database through SQLAlchemy Core: a SQLite file in the launcher's state
directory for one process, Postgres (``c.Store.db_url = "postgresql://..."``, the Helm
chart passes it from a Secret as $NFDI_LAUNCHER_DB_URL) for replicas.

Tables are registered, not hard-coded here. A module that keeps state defines its
:class:`sqlalchemy.Table` on :data:`metadata` and its own typed access functions next to
it, and is named in :data:`TABLE_MODULES`; :meth:`Store.start` imports those modules and
creates the tables that are missing. Today:

- ``jobs`` (:mod:`launcher.jobs`): builds and launches started through ``/api/v1``;
- ``receipts`` (:mod:`launcher.receipts.table`): signed receipts of builds and launches.

To add a table (e.g. ``receipts``): define ``receipts = Table("receipts", metadata, ...)``
in your module, append the module to :data:`TABLE_MODULES`, and read/write it with
``store.begin()`` (a transaction) or :meth:`Store.call` (the same, off the event loop).
There are no migrations yet: a column added to an existing table needs an ``ALTER
TABLE`` (or Alembic) on databases created before it.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from traitlets import Int, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from launcher.config import default_state_dir

#: every table of the launcher's store lives on this MetaData
metadata = sa.MetaData()

#: modules that define tables on :data:`metadata` (imported by :meth:`Store.start`)
TABLE_MODULES = ["launcher.jobs", "launcher.receipts.table"]

#: environment variable with the database URL (set by the Helm chart from its Secret)
DB_URL_ENV = "NFDI_LAUNCHER_DB_URL"
#: tries to create missing tables when another process creates them at the same moment
CREATE_ATTEMPTS = 5

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the psycopg 3 driver (the one installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def checked_url(url: str) -> str:
    """*url* normalised; a ValueError naming the problem (never the password) otherwise."""
    url = normalize_url(url.strip())
    try:
        backend = sa.make_url(url).get_backend_name()
    except sa.exc.ArgumentError as err:
        raise ValueError(f"Store.db_url is not a database URL: {redacted(url)}") from err
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"Store.db_url: only sqlite and postgresql are supported, not {backend}")
    return url


def redacted(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer; busy_timeout: a second process waits for a
    # lock instead of failing with "database is locked"
    # (busy_timeout first: switching a new file to WAL takes a lock another process may hold)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store(LoggingConfigurable):
    """The launcher's database: engine, tables, and a thread pool to use it off the loop."""

    state_dir = Unicode(
        help="""Directory of the default SQLite database. Default: LauncherConfig.state_dir
        when the store belongs to a launcher, else $NFDI_LAUNCHER_STATE_DIR, else
        ~/.local/state/nfdi-launcher.""",
    ).tag(config=True)

    @default("state_dir")
    def _state_dir_default(self) -> str:
        parent_dir = getattr(self.parent, "state_dir", "")
        return str(parent_dir or default_state_dir())

    db_url = Unicode(
        help="""SQLAlchemy URL of the launcher's database (jobs, receipts). Default:
        $NFDI_LAUNCHER_DB_URL, else ``sqlite:///<state_dir>/launcher.sqlite``. Replicas
        must share one Postgres database: ``postgresql://user:password@host:5432/db``
        (driver psycopg 3). The password is never logged.""",
    ).tag(config=True)

    @default("db_url")
    def _db_url_default(self) -> str:
        env = os.environ.get(DB_URL_ENV, "")
        if env:
            return checked_url(env)  # traitlets does not validate defaults
        return f"sqlite:///{Path(self.state_dir).expanduser().resolve() / 'launcher.sqlite'}"

    @validate("db_url")
    def _valid_db_url(self, proposal: Any) -> str:
        return checked_url(str(proposal["value"]))

    pool_size = Int(
        4,
        help="""Database connections (and threads using them) of this process. SQLite
        always uses one writer thread.""",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    def _make_engine(self) -> Engine:
        if self.is_sqlite:
            path = sa.make_url(self.db_url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self.db_url, connect_args={"check_same_thread": False})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return sa.create_engine(self.db_url, pool_size=self.pool_size, pool_pre_ping=True)

    def start(self) -> None:
        """Import the table modules and create missing tables (idempotent; blocking)."""
        for name in TABLE_MODULES:
            importlib.import_module(name)
        for attempt in range(CREATE_ATTEMPTS):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                break
            except (sa.exc.OperationalError, sa.exc.ProgrammingError,
                    sa.exc.IntegrityError) as err:
                # Two processes starting on one new database both see a table missing and
                # both create it; the loser's next look finds it there.
                if attempt + 1 < CREATE_ATTEMPTS:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                # the driver's message may quote the URL; say which database, not its password
                raise RuntimeError(f"cannot open the launcher's database "
                                   f"{redacted(self.db_url)}: {type(err.orig).__name__}") from None
        self.log.info("launcher store: %s", redacted(self.db_url))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction (committed on success, rolled back on error)."""
        with self.engine.begin() as conn:
            yield conn

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(connection, *args)`` in a transaction on the store's own threads.

        A slow database (or a busy SQLite file) never blocks the event loop, and never
        waits behind resolver lookups in the loop's default executor."""
        if self._executor is None:
            workers = 1 if self.is_sqlite else self.pool_size
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="store")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, partial(self._in_transaction, fn, *args))

    def _in_transaction(self, fn: Callable[..., T], *args: Any) -> T:
        with self.begin() as conn:
            return fn(conn, *args)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

