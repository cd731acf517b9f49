"""Receipts made from real targets, keys and stores for the receipt tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fdo.target import Hop, LaunchTarget
from launcher.receipts.book import Receipts
from launcher.receipts.model import BuildFacts, Facts
from launcher.receipts.table import receipts_table
from launcher.store import Store

COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"
IMAGE = "127.0.0.1:5000/nfdi-launcher/gh-o-r-abc123:" + "a" * 40
DIGEST = "sha256:" + "b" * 64


def target(identifier: str = "https://git.example.org/o/r/tree/main") -> LaunchTarget:
    return LaunchTarget(
        identifier=identifier, kind="git", provider="git", source="https://git.example.org/o/r",
        ref=COMMIT, launch_path=f"v2/git/https%3A%2F%2Fgit.example.org%2Fo%2Fr/{COMMIT}",
        chain=(Hop(identifier, "https://git.example.org/o/r@main", "forge URL"),
               Hop("https://git.example.org/o/r@main", COMMIT, "git ls-remote")),
        title="o/r", ref_url=f"https://git.example.org/o/r/commit/{COMMIT}",
        provenance={"git_ref": "refs/heads/main"})


def facts(**kw: object) -> Facts:
    base: dict[str, object] = dict(
        kind="launch", target=target(), image=f"{IMAGE}@{DIGEST}", image_digest=DIGEST,
        build=BuildFacts(content_digest="sha256:" + "c" * 64, repo2docker_version="2026.4.0",
                         base_image="docker.io/local/jupyter-base:6.1.1", built_at="2026-01-02T03:04:05Z"),
        launcher_version="0.1.0", issuer="http://launcher.example.org/", system="local",
        flavor="small")
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The launcher's store on SQLite, and on a real PostgreSQL server (replicas)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'launcher.sqlite'}"
    else:
        url = request.getfixturevalue("postgres").url
    s = Store(db_url=url)
    s.start()
    with s.begin() as conn:  # each test starts without receipts
        conn.execute(receipts_table.delete())
    yield s
    s.close()


@pytest.fixture
def receipts(store: Store, tmp_path: Path) -> Receipts:
    return Receipts(store, ["127.0.0.1:5000/nfdi-launcher/"], key_dir=str(tmp_path / "keys"))
