"""Safe unpacking of zip and tar archives from untrusted records.

Refused (``FetchError``, nothing written outside ``dest``): absolute member names,
``..`` components, drive letters and backslash tricks, links that point outside the
tree (or at absolute paths), hard links, device nodes, FIFOs, duplicate names, more than
``max_archive_files`` members, more than ``max_unpacked_bytes`` in total (counted while
writing, not trusted from headers) and compression ratios above ``max_compression_ratio``.
Tar members go through Python's ``data`` extraction filter as a second line of defence.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fdo.errors import FetchError

_RATIO_FLOOR = 1024 * 1024  # small members may compress extremely well (e.g. zeros)


@dataclass(frozen=True)
class Limits:
    max_files: int = 20000
    max_bytes: int = 4 * 1024 * 1024 * 1024
    max_ratio: float = 200.0


def is_archive(path: Path) -> bool:
    return zipfile.is_zipfile(path) or _is_tar(path)


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def safe_member_path(name: str, archive: str) -> PurePosixPath:
    """A member name as a safe relative path, or FetchError."""
    if "\x00" in name or "\\" in name:
        raise FetchError(f"unsafe archive {archive}: member name {name!r} has NUL or backslash")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise FetchError(f"unsafe archive {archive}: absolute member path {name!r}")
    if ".." in path.parts:
        raise FetchError(f"unsafe archive {archive}: member {name!r} escapes with '..'")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise FetchError(f"unsafe archive {archive}: empty member name {name!r}")
    return PurePosixPath(*parts)


def _link_inside(member: PurePosixPath, target: str, archive: str) -> None:
    """A symlink target must stay inside the tree (relative, no escape)."""
    if not target or target.startswith("/") or "\\" in target or "\x00" in target:
        raise FetchError(f"unsafe archive {archive}: link {member} -> {target!r} is absolute")
    depth = len(member.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise FetchError(f"unsafe archive {archive}: link {member} -> {target!r} points outside")


def unpack(archive: Path, dest: Path, limits: Limits | None = None) -> None:
    """Unpack ``archive`` (zip or tar, any compression) into ``dest`` safely."""
    limits = limits or Limits()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            _unzip(archive, dest, limits)
        elif _is_tar(archive):
            _untar(archive, dest, limits)
        else:
            raise FetchError(f"{archive.name} is neither a zip nor a tar archive")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise FetchError(f"cannot unpack {archive.name}: {err}") from None


def _check_counts(names: list[PurePosixPath], total: int, archive: str, limits: Limits) -> None:
    if len(names) > limits.max_files:
        raise FetchError(
            f"archive {archive} has {len(names)} members, more than the limit of {limits.max_files}"
        )
    if total > limits.max_bytes:
        raise FetchError(
            f"archive {archive} unpacks to {total} bytes, more than the limit of {limits.max_bytes}"
        )
    seen: set[str] = set()
    for name in names:
        key = str(name).rstrip("/")
        if key in seen:
            raise FetchError(f"unsafe archive {archive}: duplicate member {key!r}")
        seen.add(key)


def _unzip(archive: Path, dest: Path, limits: Limits) -> None:
    label = archive.name
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        names = [safe_member_path(i.filename, label) for i in infos]
        _check_counts(names, sum(i.file_size for i in infos), label, limits)
        links: dict[str, str] = {}
        for info, rel in zip(infos, names, strict=True):  # check everything before writing
            ftype = stat.S_IFMT(info.external_attr >> 16)
            if ftype and ftype not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
                raise FetchError(f"unsafe archive {label}: member {rel} is a special file")
            if info.file_size > _RATIO_FLOOR and info.compress_size and \
                    info.file_size / info.compress_size > limits.max_ratio:
                raise FetchError(f"unsafe archive {label}: member {rel} has a compression ratio "
                                 f"above {limits.max_ratio:.0f} (zip bomb?)")
            if ftype == stat.S_IFLNK:
                target = zf.read(info)[:4096].decode("utf-8", errors="replace")
                _link_inside(rel, target, label)
                links[info.filename] = target
        written = 0
        for info, rel in zip(infos, names, strict=True):
            out = _inside(dest, rel, label)
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if info.filename in links:
                os.symlink(links[info.filename], out)
                continue
            with zf.open(info) as src, open(out, "xb") as dst:
                written = _copy_bounded(src, dst, written, limits.max_bytes, label)
            if (info.external_attr >> 16) & 0o111:
                out.chmod(0o755)


def _copy_bounded(src: object, dst: object, written: int, limit: int, label: str) -> int:
    read = getattr(src, "read")  # noqa: B009 - file-like objects of zipfile/tarfile
    write = getattr(dst, "write")  # noqa: B009
    while chunk := read(1024 * 1024):
        written += len(chunk)
        if written > limit:
            raise FetchError(f"archive {label} unpacks to more than the limit of {limit} bytes")
        write(chunk)
    return written


def _inside(dest: Path, rel: PurePosixPath, label: str) -> Path:
    """``dest/rel``, refusing to write through a symlink that leaves ``dest``."""
    out = dest.joinpath(*rel.parts)
    root = dest.resolve()
    parent = out.parent.resolve()
    if parent != root and root not in parent.parents:
        raise FetchError(f"unsafe archive {label}: member {rel} would be written outside")
    if out.is_symlink() or out.exists() and not out.is_dir():
        raise FetchError(f"unsafe archive {label}: member {rel} overwrites an existing entry")
    return out


def _untar(archive: Path, dest: Path, limits: Limits) -> None:
    label = archive.name
    compressed = archive.stat().st_size
    with tarfile.open(archive) as tf:
        members: list[tarfile.TarInfo] = []
        for member in tf:
            members.append(member)
            if len(members) > limits.max_files:
                raise FetchError(f"archive {label} has more than {limits.max_files} members")
        names = [safe_member_path(m.name, label) for m in members]
        total = sum(m.size for m in members if m.isfile())
        _check_counts(names, total, label, limits)
        if total > _RATIO_FLOOR and compressed and total / compressed > limits.max_ratio:
            raise FetchError(f"unsafe archive {label}: compression ratio above "
                             f"{limits.max_ratio:.0f} (tar bomb?)")
        for member, rel in zip(members, names, strict=True):
            if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
                raise FetchError(f"unsafe archive {label}: member {rel} is a device or FIFO")
            if member.islnk():
                raise FetchError(f"unsafe archive {label}: member {rel} is a hard link")
            if member.issym():
                _link_inside(rel, member.linkname, label)
            elif not (member.isfile() or member.isdir()):
                raise FetchError(f"unsafe archive {label}: member {rel} has an unsupported type")
        for member in members:
            try:
                _extract(tf, member, dest)
            except (tarfile.TarError, OSError) as err:
                raise FetchError(f"unsafe archive {label}: {err}") from None


def _extract(tf: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    """Extract one (already checked) member with the ``data`` filter's modes and owners.

    Python before 3.11.4 (Debian 12's 3.11.2, the launcher image's) has no extraction
    filters: there the same result is made by hand (no owners or times from the archive;
    mode without setuid/setgid/sticky and group/other write; the owner's exec bit kept,
    because it is part of the content's identity)."""
    if hasattr(tarfile, "data_filter"):
        tf.extract(member, dest, filter="data")
        return
    tf.extract(member, dest, set_attrs=False)
    if member.isfile() or member.isdir():
        mode = member.mode & 0o755 | (0o700 if member.isdir() else 0o600)
        os.chmod(dest / member.name, mode)


def flatten_single_dir(dest: Path) -> None:
    """If ``dest`` holds exactly one directory (and nothing else), move its content up."""
    entries = list(dest.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    inner = entries[0]
    tmp = dest / f".nfdi-flatten-{os.getpid()}"
    inner.rename(tmp)
    for child in tmp.iterdir():
        child.rename(dest / child.name)
    shutil.rmtree(tmp)
