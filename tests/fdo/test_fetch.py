"""fetch(): LaunchTarget -> build context directory, for git, archive and swh targets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fdo.errors import FetchError, NotFound, RefusedTarget
from fdo.fetch import fetch
from fdo.net import NetConfig
from fdo.target import Choice, FileEntry, LaunchTarget
from tests.fdo.conftest import replay_client
from tests.fdo.net.hostile import tar_bytes, zip_bytes
from tests.harness.gitserver import GitServer
from tests.harness.replay import ReplayServer


def archive_target(*files: FileEntry, kind: str = "archive") -> LaunchTarget:
    return LaunchTarget(identifier="10.5281/zenodo.999", kind=kind,  # type: ignore[arg-type]
                        provider="zenodo", source="https://zenodo.org/records/999", ref="999@1",
                        launch_path="v2/zenodo/10.5281/zenodo.999", files=files)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


http_for = replay_client


def test_git_target_is_checked_out_at_the_commit(git_server: GitServer, tmp_path: Path) -> None:
    second = git_server.sha("fdo-net-demo", "refs/heads/main")
    target = LaunchTarget(identifier="https://git.example.org/demo.git", kind="git", provider="git",
                          source="https://git.example.org/demo.git", ref=second,
                          launch_path=f"v2/git/x/{second}")
    cfg = NetConfig(url_rewrites={"https://git.example.org/demo.git": git_server.url_for("fdo-net-demo")})
    out = fetch(target, tmp_path / "ctx", config=cfg)
    assert (out / "Dockerfile").read_text().startswith("FROM local/jupyter-base")
    assert (out / ".git/HEAD").read_text().strip() == second


def test_git_target_with_a_branch_name_is_refused(tmp_path: Path) -> None:
    target = LaunchTarget(identifier="x", kind="git", provider="git", source="https://g.org/r.git",
                          ref="main", launch_path="v2/git/x/main")
    with pytest.raises(FetchError, match="not a full commit SHA"):
        fetch(target, tmp_path / "ctx")
    assert not (tmp_path / "ctx").exists()


def test_single_zip_is_unpacked_and_its_top_folder_flattened(replay: ReplayServer, tmp_path: Path) -> None:
    data = zip_bytes([("repo-v1/Dockerfile", b"FROM x\n"), ("repo-v1/src/a.py", b"print(1)\n")])
    replay.add("https://zenodo.org/records/999/files/repo-v1.zip/content", body=data)
    target = archive_target(FileEntry("repo-v1.zip", "https://zenodo.org/records/999/files/repo-v1.zip/content",
                                      len(data), sha256(data)))
    out = fetch(target, tmp_path / "ctx", http=http_for(replay))
    assert sorted(p.name for p in out.iterdir()) == ["Dockerfile", "src"]
    assert (out / "src/a.py").read_text() == "print(1)\n"


def test_several_plain_files_keep_their_record_paths(replay: ReplayServer, tmp_path: Path) -> None:
    replay.add("https://dataverse.harvard.edu/api/access/datafile/1", body=b"a,b\n")
    replay.add("https://dataverse.harvard.edu/api/access/datafile/2", body=b"numpy\n")
    target = archive_target(
        FileEntry("data/table.csv", "https://dataverse.harvard.edu/api/access/datafile/1", 4, None),
        FileEntry("requirements.txt", "https://dataverse.harvard.edu/api/access/datafile/2", 6,
                  "md5:" + hashlib.md5(b"numpy\n").hexdigest()),  # noqa: S324 - records use md5
    )
    out = fetch(target, tmp_path / "ctx", http=http_for(replay))
    assert (out / "data/table.csv").read_bytes() == b"a,b\n"
    assert (out / "requirements.txt").read_bytes() == b"numpy\n"
    assert sorted(p.name for p in out.iterdir()) == ["data", "requirements.txt"]


def test_swh_vault_tarball_is_unpacked_and_flattened(replay: ReplayServer, tmp_path: Path) -> None:
    swhid = "swh:1:dir:977fc4b98c0e85816348cebd3b12026407c368b6"
    data = tar_bytes([(f"{swhid}/README", b"hello"), (f"{swhid}/bin/run", b"#!/bin/sh")])
    url = f"https://archive.softwareheritage.org/api/1/vault/flat/{swhid}/raw/"
    replay.add(url, body=data, headers={"Content-Type": "application/gzip"})
    target = LaunchTarget(identifier=swhid, kind="swh", provider="swhid", source=swhid, ref=swhid,
                          launch_path=f"v2/swhid/{swhid}", files=(FileEntry(f"{swhid}.tar.gz", url),))
    out = fetch(target, tmp_path / "ctx", http=http_for(replay))
    assert (out / "README").read_bytes() == b"hello"
    assert (out / "bin/run").exists()


def test_existing_empty_dir_is_used_and_emptied_on_failure(replay: ReplayServer, tmp_path: Path) -> None:
    replay.add("https://zenodo.org/files/ok", body=b"ok")
    target = archive_target(FileEntry("ok.txt", "https://zenodo.org/files/ok", 2, None),
                            FileEntry("gone.txt", "https://zenodo.org/files/gone", None, None))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with pytest.raises(NotFound, match="HTTP 404"):
        fetch(target, ctx, http=http_for(replay))
    assert ctx.is_dir()
    assert list(ctx.iterdir()) == []


def test_non_empty_dest_is_refused_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(FetchError, match="not empty"):
        fetch(archive_target(FileEntry("a", "https://zenodo.org/a")), tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_ambiguous_target_is_not_fetched(tmp_path: Path) -> None:
    target = archive_target().with_(choices=(Choice("gh/a/b/main", "branch main"),))
    with pytest.raises(FetchError, match="ambiguous"):
        fetch(target, tmp_path / "ctx")


def test_size_in_record_is_enforced(replay: ReplayServer, tmp_path: Path) -> None:
    replay.add("https://zenodo.org/files/s", body=b"12345")
    target = archive_target(FileEntry("s.txt", "https://zenodo.org/files/s", 3, None))
    with pytest.raises(FetchError, match="the record says 3"):
        fetch(target, tmp_path / "ctx", http=http_for(replay))
    assert not (tmp_path / "ctx").exists()


def test_file_url_in_record_is_refused(tmp_path: Path) -> None:
    target = archive_target(FileEntry("p", "file:///etc/passwd"))
    with pytest.raises(RefusedTarget, match="scheme 'file'"):
        fetch(target, tmp_path / "ctx")
    assert not (tmp_path / "ctx").exists()
