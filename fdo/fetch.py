"""Materialise a :class:`~fdo.target.LaunchTarget` into a build-context directory.

A pipeline of named steps per kind:

- ``git``: check out exactly ``target.ref`` (a full commit SHA) with the hardened
  :class:`~fdo.net.Git` wrapper (``.git`` stays; builders exclude it when hashing);
- ``archive``: download every file (checksums verified, size bounded), unpack zip/tar
  files safely (:mod:`fdo.unpack`), flatten a single top-level folder;
- ``swh``: download the vault tarball listed in ``target.files`` and unpack it likewise.

Providers that build downloads on demand (Software Heritage vault, HydroShare bags) are
waited for first, bounded (:mod:`fdo.prepare`).

Nothing is written outside ``dest``; on failure ``dest`` is removed (or emptied, if it
existed before) and the error is raised with a one-line message.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path, PurePosixPath

from fdo.config import NetConfig
from fdo.errors import FetchError
from fdo.identifiers.forges import HEX_SHA
from fdo.net.git import Git
from fdo.net.http import HttpClient
from fdo.prepare import prepare
from fdo.target import FileEntry, LaunchTarget
from fdo.unpack import Limits, flatten_single_dir, is_archive, safe_member_path, unpack

log = logging.getLogger("fdo.fetch")

_STAGING = ".nfdi-download"


def fetch(
    target: LaunchTarget,
    dest: Path,
    *,
    config: NetConfig | None = None,
    http: HttpClient | None = None,
    git: Git | None = None,
) -> Path:
    """Materialise ``target`` in ``dest`` (new or empty directory); returns ``dest``."""
    if target.ambiguous:
        raise FetchError("the identifier is ambiguous; resolve one of its choices first")
    cfg = config or (http.config if http else git.config if git else NetConfig())
    dest = Path(dest)
    existed = _prepare(dest)
    try:
        if target.kind == "git":
            _fetch_git(target, dest, git or Git(cfg))
        elif target.kind in ("archive", "swh"):
            client = http or HttpClient(cfg)
            _fetch_files(prepare(target, client), dest, client, _limits(cfg))
        else:
            raise FetchError(f"cannot fetch targets of kind {target.kind!r}")
    except OSError as err:
        _cleanup(dest, existed)
        raise FetchError(f"fetching {target.identifier} failed: {err.strerror or err}") from None
    except BaseException:
        _cleanup(dest, existed)
        raise
    return dest


def _limits(cfg: NetConfig) -> Limits:
    return Limits(cfg.max_archive_files, cfg.max_unpacked_bytes, cfg.max_compression_ratio)


def _prepare(dest: Path) -> bool:
    if dest.is_symlink():
        raise FetchError(f"target directory {dest} is a symlink")
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise FetchError(f"target directory {dest} exists and is not empty")
        return True
    dest.mkdir(parents=True)
    return False


def _cleanup(dest: Path, existed: bool) -> None:
    if not dest.exists():
        return
    if existed:
        for child in dest.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    else:
        shutil.rmtree(dest, ignore_errors=True)


def _fetch_git(target: LaunchTarget, dest: Path, git: Git) -> None:
    if not HEX_SHA.match(target.ref):
        raise FetchError(f"git target ref {target.ref[:80]!r} is not a full commit SHA")
    git.clone_at(target.source, target.ref, dest)


def _fetch_files(target: LaunchTarget, dest: Path, http: HttpClient, limits: Limits) -> None:
    if not target.files:
        raise FetchError(f"{target.identifier} has no files to download")
    staging = dest / _STAGING
    staging.mkdir()
    budget = limits.max_bytes
    downloaded: list[tuple[FileEntry, PurePosixPath, Path]] = []
    for index, entry in enumerate(target.files):
        rel = safe_member_path(entry.name, "record")
        if entry.size is not None and entry.size > budget:
            raise FetchError(f"{entry.name} is {entry.size} bytes, over the remaining limit of {budget}")
        part = staging / f"{index:05d}"
        size = http.download(entry.url, part, max_bytes=min(budget, http.config.max_download_bytes),
                             checksum=entry.checksum)
        if entry.size is not None and size != entry.size:
            raise FetchError(f"{entry.name}: got {size} bytes, the record says {entry.size}")
        budget -= size
        downloaded.append((entry, rel, part))
        log.info("downloaded %s (%d bytes)", rel, size)
    content = dest / ".nfdi-content"
    content.mkdir()
    for entry, rel, part in downloaded:
        _place(entry, rel, part, content, limits, unpack_archives=target.kind == "swh" or len(downloaded) == 1
               or _looks_like_archive(entry.name))
    shutil.rmtree(staging)
    flatten_single_dir(content)
    root = _bag_payload(content) if target.provenance.get("layout") == "bagit" else content
    for child in root.iterdir():
        child.rename(dest / child.name)
    shutil.rmtree(content)


def _bag_payload(content: Path) -> Path:
    """A HydroShare BagIt bag keeps the resource's files in ``data/contents`` (as repo2docker)."""
    payload = content / "data" / "contents"
    if payload.is_dir() and not payload.is_symlink():
        return payload
    return content


def _looks_like_archive(name: str) -> bool:
    return name.lower().endswith((".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))


def _place(
    entry: FileEntry, rel: PurePosixPath, part: Path, content: Path, limits: Limits, unpack_archives: bool
) -> None:
    """Unpack an archive (as repo2docker does) or put the file at its record path."""
    if unpack_archives and is_archive(part):
        unpack(part, content, limits)
        part.unlink()
        return
    out = content.joinpath(*rel.parts)
    if out.exists() or out.is_symlink():
        raise FetchError(f"record lists {entry.name!r} twice")
    out.parent.mkdir(parents=True, exist_ok=True)
    part.rename(out)
