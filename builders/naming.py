"""Pure functions: image names and tags from immutable inputs.

Name (BinderHub's scheme, so a registry stays interchangeable with BinderHub):
``<prefix><escaped source slug, cut>-<sha256(slug)[:6]>``, lower-cased, ``_`` -> ``-``.

Tag: made only from immutable inputs — the digest of the materialised build
context (paths, file modes and contents; VCS metadata excluded) and the builder's
salt (repo2docker version + settings that change the image). So two identifiers that
reach the same tree (a Zenodo DOI of a GitHub release and the Git tag itself) get the
same tag, and the builder finds the image under a content alias before building.
"""

from __future__ import annotations

import hashlib
import os
import stat
import string
from pathlib import Path

import escapism

#: directories never part of the content identity (VCS metadata)
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
#: BinderHub's default limit for the repository part of an image name
NAME_LIMIT = 255
_SAFE = set(string.ascii_letters + string.digits)
#: repository name (below the prefix) that indexes images by content tag
CONTENT_ALIAS = "content"


def safe_build_slug(slug: str, limit: int = NAME_LIMIT, hash_length: int = 6) -> str:
    """BinderHub's ``_safe_build_slug``: escaped slug + short hash, lower-cased."""
    slug_hash = hashlib.sha256(slug.encode("utf-8")).hexdigest()
    escaped = escapism.escape(slug, safe=_SAFE, escape_char="-")
    return f"{escaped[: limit - hash_length - 1]}-{slug_hash[:hash_length]}".lower()


def source_slug(provider: str, source: str) -> str:
    """The build slug of a source: ``<provider>-<source without scheme>``.

    BinderHub uses ``<owner>-<repo>`` for GitHub; we use the canonical source URL so
    every provider gets a stable, distinct slug.
    """
    rest = source.split("://", 1)[-1].rstrip("/")
    if rest.endswith(".git"):
        rest = rest[:-4]
    return f"{provider}-{rest}"


def repository_name(prefix: str, slug: str, limit: int = NAME_LIMIT) -> str:
    """Repository part of the image name (``prefix`` may contain ``/``)."""
    return (prefix + safe_build_slug(slug, limit=limit - len(prefix))).replace("_", "-").lower()


def image_tag(content_digest: str, salt: str) -> str:
    """Tag from the content digest and the builder salt (hex, 40 chars, like a SHA)."""
    h = hashlib.sha256(f"{content_digest}\0{salt}".encode()).hexdigest()
    return h[:40]


def image_reference(registry_host: str, repository: str, tag: str) -> str:
    """``host/repo:tag`` (or ``repo:tag`` when there is no registry)."""
    base = f"{registry_host}/{repository}" if registry_host else repository
    return f"{base}:{tag}"


def content_alias(prefix: str) -> str:
    """Repository that holds every built image under its content tag."""
    return (prefix + CONTENT_ALIAS).lower()


def _walk(root: Path) -> list[tuple[str, Path]]:
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in VCS_DIRS)
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            entries.append((path.relative_to(root).as_posix(), path))
    entries.sort(key=lambda e: e[0].encode("utf-8", "surrogateescape"))
    return entries


def content_digest(root: Path) -> str:
    """Deterministic ``sha256:<hex>`` of a tree: paths, types, exec bits, contents.

    Only the executable bit of file modes counts (as in git), so umask differences
    between a clone and an unpacked archive do not change the identity. Symlinks
    contribute their target text; VCS directories and empty directories are skipped
    (git cannot represent those, so an archive and a clone of one tree agree).
    """
    outer = hashlib.sha256()
    for rel, path in _walk(root):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            kind, payload = b"L", os.readlink(path).encode("utf-8", "surrogateescape")
        elif stat.S_ISREG(st.st_mode):
            kind = b"X" if st.st_mode & 0o111 else b"F"
            payload = _file_hash(path)
        else:
            continue  # directories (git does not track them), sockets, fifos
        outer.update(kind + b" " + rel.encode("utf-8", "surrogateescape") + b"\0")
        outer.update(len(payload).to_bytes(8, "big") + payload)
    return "sha256:" + outer.hexdigest()


def _file_hash(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()
