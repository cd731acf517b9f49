"""Safe unpacking: benign archives unpack; every hostile one is refused, nothing escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fdo.errors import FetchError
from fdo.unpack import Limits, flatten_single_dir, unpack
from tests.fdo.net.hostile import HOSTILE, TEST_LIMITS, tar_bytes, tinfo, zip_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")

LIMITS = Limits(TEST_LIMITS["max_archive_files"], int(TEST_LIMITS["max_unpacked_bytes"]),
                TEST_LIMITS["max_compression_ratio"])


def test_benign_zip_with_inside_symlink_and_exec_bit(tmp_path: Path) -> None:
    import stat

    arc = tmp_path / "a.zip"
    arc.write_bytes(zip_bytes([("top/run.sh", b"#!/bin/sh\n"), ("top/sub/data.txt", b"d")],
                              symlinks={"top/link": "sub/data.txt"}))
    import zipfile
    with zipfile.ZipFile(arc, "a") as zf:
        info = zipfile.ZipInfo("top/exec.sh")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, b"#!/bin/sh\n")
    out = tmp_path / "out"
    unpack(arc, out, LIMITS)
    assert (out / "top/sub/data.txt").read_text() == "d"
    assert os.readlink(out / "top/link") == "sub/data.txt"
    assert os.access(out / "top/exec.sh", os.X_OK)
    flatten_single_dir(out)
    assert sorted(p.name for p in out.iterdir()) == ["exec.sh", "link", "run.sh", "sub"]


def test_benign_tar_gz_with_relative_symlink_and_modes(tmp_path: Path) -> None:
    import tarfile

    run = tarfile.TarInfo("swh/postBuild")
    run.size, run.mode = 3, 0o4777  # setuid and world-writable are dropped, x stays
    arc = tmp_path / "a.tar.gz"
    arc.write_bytes(tar_bytes([("swh/a.txt", b"a"), tinfo("swh/b", b"2", "a.txt")]))
    import gzip
    import io
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        with tarfile.open(arc) as src:
            for m in src:
                tf.addfile(m, src.extractfile(m) if m.isfile() else None)
        tf.addfile(run, io.BytesIO(b"#!\n"))
    arc.write_bytes(gzip.compress(buf.getvalue()))
    out = tmp_path / "out"
    unpack(arc, out, LIMITS)
    assert (out / "swh/b").read_text() == "a"
    mode = (out / "swh/postBuild").stat().st_mode & 0o7777
    assert mode & 0o100
    assert not mode & 0o4000
    assert not mode & 0o002


def test_flatten_keeps_several_top_entries(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b.txt").write_text("b")
    flatten_single_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.txt"]


def test_not_an_archive(tmp_path: Path) -> None:
    arc = tmp_path / "a.zip"
    arc.write_bytes(b"plain text")
    with pytest.raises(FetchError, match="neither a zip nor a tar"):
        unpack(arc, tmp_path / "out", LIMITS)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused(tmp_path: Path, case: str) -> None:
    name, build, message = HOSTILE[case]
    box = tmp_path / "box"
    box.mkdir()
    arc = box / name
    arc.write_bytes(build())
    before = set(tmp_path.parent.iterdir())
    with pytest.raises(FetchError, match=message):
        unpack(arc, box / "out", LIMITS)
    assert set(tmp_path.parent.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box"]
    written = [p for p in (box / "out").rglob("*")] if (box / "out").exists() else []
    assert all(p.resolve().is_relative_to(box) or p.is_symlink() for p in written)
