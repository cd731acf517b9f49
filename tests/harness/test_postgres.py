"""Self-test of the PostgreSQL harness: a real server answers SQL and stops cleanly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa

from launcher.store import normalize_url
from tests.harness.postgres import Postgres, start_postgres


def test_the_session_server_answers_sql(postgres: Postgres) -> None:
    engine = sa.create_engine(normalize_url(postgres.url))
    with engine.connect() as conn:
        assert conn.execute(sa.text("select current_user")).scalar() == "launcher"
    engine.dispose()


def test_a_stopped_server_leaves_no_process() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-pg-selftest-"))
    workdir.chmod(0o755)
    pg = start_postgres(workdir / "pg")
    proc = pg.proc
    assert proc is not None
    pg.stop()
    assert proc.poll() is not None
