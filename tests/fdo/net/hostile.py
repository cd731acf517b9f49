"""Builders of benign and hostile archives (zip and tar) for the unpack/fetch tests."""

from __future__ import annotations

import io
import random
import stat
import tarfile
import zipfile
from collections.abc import Callable


def zip_bytes(members: list[tuple[str, bytes]], *, symlinks: dict[str, str] | None = None,
              modes: dict[str, int] | None = None,
              compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, target in (symlinks or {}).items():  # links first: then files through them
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
        for name, data in members:
            zf.writestr(name, data)
        for name, mode in (modes or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, b"")
    return buf.getvalue()


def tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for item in members:
            if isinstance(item, tarfile.TarInfo):
                tf.addfile(item)
            else:
                name, data = item
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tinfo(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


#: name -> (archive file name, builder, expected message substring)
HOSTILE: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "zip-slip-dotdot": ("a.zip", lambda: zip_bytes([("ok.txt", b"x"), ("../evil.txt", b"x")]), "escapes with '..'"),
    "zip-slip-deep": ("a.zip", lambda: zip_bytes([("a/b/../../../evil.txt", b"x")]), "escapes with '..'"),
    "zip-absolute": ("a.zip", lambda: zip_bytes([("/tmp/evil.txt", b"x")]), "absolute member path"),
    "zip-drive-letter": ("a.zip", lambda: zip_bytes([("C:/evil.txt", b"x")]), "absolute member path"),
    "zip-backslash": ("a.zip", lambda: zip_bytes([("..\\evil.txt", b"x")]), "backslash"),
    "zip-symlink-etc-passwd": ("a.zip", lambda: zip_bytes([], symlinks={"pw": "/etc/passwd"}), "is absolute"),
    "zip-symlink-up": ("a.zip", lambda: zip_bytes([], symlinks={"d/up": "../../.."}), "points outside"),
    "zip-symlink-then-file": ("a.zip", lambda: zip_bytes([("etc/passwd", b"pwned")], symlinks={"etc": "/etc"}), "is absolute"),
    "zip-symlink-up-then-file": ("a.zip", lambda: zip_bytes([("l/evil", b"x")], symlinks={"l": "../.."}), "points outside"),
    "zip-symlink-chain-out": ("a.zip", lambda: zip_bytes([], symlinks={"a/b": "../../x"}), "points outside"),
    "zip-duplicate": ("a.zip", lambda: zip_bytes([("a.txt", b"1"), ("a.txt", b"2")]), "duplicate member"),
    "zip-device": ("a.zip", lambda: zip_bytes([], modes={"dev": stat.S_IFCHR | 0o644}), "special file"),
    "zip-fifo": ("a.zip", lambda: zip_bytes([], modes={"fifo": stat.S_IFIFO | 0o644}), "special file"),
    "zip-bomb-ratio": ("a.zip", lambda: zip_bytes([("zeros", b"\0" * (8 * 1024 * 1024))]), "compression ratio"),
    "zip-file-then-dir": ("a.zip", lambda: zip_bytes([("a", b"file"), ("a/b", b"x")]), "cannot unpack"),
    "tar-truncated": ("a.tar.gz", lambda: tar_bytes([("big", random.Random(1).randbytes(100_000))])[:20_000], "cannot unpack"),
    "zip-dot-name": ("a.zip", lambda: zip_bytes([("./", b"")]), "empty member name"),
    "tar-dotdot": ("a.tar.gz", lambda: tar_bytes([("../evil.txt", b"x")]), "escapes with '..'"),
    "tar-absolute": ("a.tar.gz", lambda: tar_bytes([("/tmp/evil.txt", b"x")]), "absolute member path"),
    "tar-symlink-etc-passwd": ("a.tar.gz", lambda: tar_bytes([tinfo("pw", tarfile.SYMTYPE, "/etc/passwd")]), "is absolute"),
    "tar-symlink-then-file": ("a.tar.gz", lambda: tar_bytes([tinfo("l", tarfile.SYMTYPE, "../.."), ("l/evil", b"x")]), "points outside"),
    "tar-symlink-dir-write-through": ("a.tar.gz", lambda: tar_bytes([tinfo("d", tarfile.SYMTYPE, "/tmp"), ("d/evil", b"x")]), "is absolute"),
    "tar-hardlink-outside": ("a.tar.gz", lambda: tar_bytes([tinfo("h", tarfile.LNKTYPE, "/etc/passwd")]), "hard link"),
    "tar-hardlink-inside": ("a.tar.gz", lambda: tar_bytes([("f", b"x"), tinfo("h", tarfile.LNKTYPE, "f")]), "hard link"),
    "tar-chardev": ("a.tar.gz", lambda: tar_bytes([tinfo("null", tarfile.CHRTYPE)]), "device or FIFO"),
    "tar-blockdev": ("a.tar.gz", lambda: tar_bytes([tinfo("sda", tarfile.BLKTYPE)]), "device or FIFO"),
    "tar-fifo": ("a.tar.gz", lambda: tar_bytes([tinfo("p", tarfile.FIFOTYPE)]), "device or FIFO"),
    "tar-duplicate": ("a.tar.gz", lambda: tar_bytes([("a", b"1"), ("a", b"2")]), "duplicate member"),
    "tar-bomb-ratio": ("a.tar.gz", lambda: tar_bytes([("zeros", b"\0" * (8 * 1024 * 1024))]), "compression ratio"),
    "tar-too-many-members": ("a.tar", lambda: tar_bytes([(f"f{i}", b"") for i in range(60)], "w"), "more than 50 members"),
    "zip-too-many-members": ("a.zip", lambda: zip_bytes([(f"f{i}", b"") for i in range(60)]), "more than the limit of 50"),
    "zip-too-big-unpacked": ("a.zip", lambda: zip_bytes([("big", b"ab" * 9_000_000)]), "more than the limit"),
    "tar-too-big-unpacked": ("a.tar.gz", lambda: tar_bytes([("big", b"ab" * 9_000_000)]), "more than the limit"),
}

#: limits the hostile cases run under (small, so bombs stay tiny)
TEST_LIMITS = {"max_archive_files": 50, "max_unpacked_bytes": 16 * 1024 * 1024,
               "max_compression_ratio": 100.0}
