"""A real PostgreSQL server (Debian's ``postgresql``) in a temp dir on loopback.

``initdb`` + ``postgres`` run as the ``postgres`` system user (the server refuses to
run as root), with their own data directory, a socket directory in the temp dir and
``127.0.0.1:<free port>``; nothing of the package's cluster (``/etc/postgresql``,
``/var/lib/postgresql``) is used or started. ``scripts/setup.sh`` installs the package.

API::

    pg = start_postgres(workdir)
    pg.url   # "postgresql://launcher:<password>@127.0.0.1:PORT/launcher"
    pg.stop()

Fixture: ``postgres`` (session).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.hub import free_port, wait_for


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<v>/bin``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    workdir: Path
    port: int
    password: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://launcher:{self.password}@127.0.0.1:{self.port}/launcher"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: "smart" shutdown, clients are disconnected
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _as_postgres(cmd: list[str], **kwargs: object) -> None:
    proc = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=False,
                          capture_output=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stderr.decode()[-2000:]}")


def start_postgres(workdir: Path) -> Postgres:
    """Start a server in *workdir* (its parents must be searchable by user postgres)."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed; run scripts/setup.sh")
    uid = pwd.getpwnam("postgres")
    workdir.mkdir(parents=True, exist_ok=True)
    os.chown(workdir, uid.pw_uid, uid.pw_gid)
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    os.chown(sockets, uid.pw_uid, uid.pw_gid)
    pg = Postgres(workdir, free_port(), secrets.token_hex(12))
    pwfile = workdir / "pwfile"
    pwfile.write_text(pg.password + "\n")
    os.chown(pwfile, uid.pw_uid, uid.pw_gid)
    pwfile.chmod(0o600)
    _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "launcher", "--pwfile", str(pwfile),
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"], cwd=str(workdir))
    log = (workdir / "postgres.log").open("ab")
    pg.proc = subprocess.Popen(
        ["runuser", "-u", "postgres", "--", str(bindir / "postgres"), "-D", str(data),
         "-h", "127.0.0.1", "-p", str(pg.port), "-k", str(sockets), "-c", "fsync=off"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd=str(workdir))
    log.close()

    def ready() -> bool:
        assert pg.proc is not None
        if pg.proc.poll() is not None:
            raise RuntimeError(f"postgres exited: {(workdir / 'postgres.log').read_text()[-2000:]}")
        probe = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(pg.port)],
                               capture_output=True, check=False)
        return probe.returncode == 0

    wait_for(ready, 60, "postgres to accept connections")
    _as_postgres([str(bindir / "createdb"), "-h", str(sockets), "-p", str(pg.port), "-U", "launcher",
                  "launcher"], env={**os.environ, "PGPASSWORD": pg.password})
    return pg


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-pg-"))
    workdir.chmod(0o755)  # the server runs as user postgres
    pg = start_postgres(workdir / "pg")
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
