"""Build contexts through the registry: the launcher uploads, the build pod downloads.

A build pod cannot see the launcher's disk, and the context must be exactly what ``fdo``
fetched and checked (the image name is derived from its content). So the launcher packs
the directory into a reproducible tar.gz and uploads it as a blob into the image's own
repository (content-addressed: replicas uploading the same context write the same blob).
The pod's init container runs this module's ``fetch`` command: download by digest with the
push credentials, verify the digest, unpack with tarfile's ``data`` filter (no absolute
paths, no links out of the tree, no device files). Blobs no manifest refers to are removed
by the registry's garbage collection.

Usage inside a build pod::

    python3 -m builders.executors.context_blob fetch --registry https://reg --repository r \\
        --digest sha256:... --dest /build/context/src --docker-config /build/registry/config.json \\
        --docker-config-out /build/context/docker --r2d-config /build/context/repo2docker_config.py
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
import urllib.parse
from pathlib import Path

from builders.registry import RegistryError, RegistryStore

MAX_CONTEXT_BYTES = 2 * 1024**3


class ContextError(Exception):
    """A build context that cannot be packed, uploaded or unpacked."""


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # reproducible archives: the same tree gives the same bytes, hence the same digest
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    return info


def pack(context_dir: Path, max_bytes: int = MAX_CONTEXT_BYTES) -> bytes:
    """A gzip'ed tar of ``context_dir`` (sorted, zeroed metadata), at most ``max_bytes``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(context_dir.rglob("*")):
            # everything, .git included: the pod builds what the Docker executor would
            rel = path.relative_to(context_dir).as_posix()
            tar.add(path, arcname=rel, recursive=False, filter=_normalise)
            if raw.tell() > max_bytes:
                raise ContextError(f"build context is larger than {max_bytes} bytes")
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ContextStore(RegistryStore):
    """Blob upload and download on top of the registry client (same auth handling)."""

    def has_blob(self, repo: str, digest: str) -> bool:
        resp = self._request("HEAD", repo, f"blobs/{digest}")
        return resp.status_code == 200

    def put_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` (monolithic POST + PUT); returns its digest. Idempotent."""
        digest = blob_digest(data)
        if self.has_blob(repo, digest):
            return digest
        start = self._request("POST", repo, "blobs/uploads/", push=True)
        location = start.headers.get("Location", "")
        if start.status_code != 202 or not location:
            raise RegistryError(f"registry {self.host}: cannot start an upload to {repo} ({start.status_code})")
        url = urllib.parse.urljoin(self.base + "/", location)
        prefix = f"{self.base}/v2/{repo}/"
        if not url.startswith(prefix):
            raise RegistryError(f"registry {self.host}: upload location outside {repo}")
        sep = "&" if "?" in url else "?"
        path = url.removeprefix(prefix)
        done = self._request("PUT", repo, f"{path}{sep}digest={urllib.parse.quote(digest)}", push=True,
                             data=data, headers={"Content-Type": "application/octet-stream"})
        if done.status_code != 201:
            raise RegistryError(f"registry {self.host}: upload to {repo} failed ({done.status_code})")
        return digest

    def get_blob(self, repo: str, digest: str, max_bytes: int = MAX_CONTEXT_BYTES) -> bytes:
        resp = self._request("GET", repo, f"blobs/{digest}", stream=True)
        if resp.status_code != 200:
            raise RegistryError(f"registry {self.host}: blob {digest[:19]} of {repo} -> {resp.status_code}")
        buf = io.BytesIO()
        for chunk in resp.iter_content(1 << 20):
            buf.write(chunk)
            if buf.tell() > max_bytes:
                raise ContextError(f"build context blob is larger than {max_bytes} bytes")
        data = buf.getvalue()
        if blob_digest(data) != digest:
            raise ContextError(f"build context blob does not match its digest {digest[:19]}")
        return data


def unpack(data: bytes, dest: Path, max_bytes: int = MAX_CONTEXT_BYTES) -> None:
    """Unpack a context archive into ``dest`` with fdo's safe unpacker (the same checks as
    for archives from records: no absolute or escaping names, links or devices)."""
    from fdo.errors import FetchError
    from fdo.unpack import Limits
    from fdo.unpack import unpack as safe_unpack

    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ContextError(f"{dest} is not empty")
    archive = dest.parent / f".{dest.name}.tar.gz"
    archive.write_bytes(data)
    try:
        safe_unpack(archive, dest, Limits(max_files=1_000_000, max_bytes=8 * max_bytes, max_ratio=1e6))
    except FetchError as err:
        raise ContextError(str(err)) from None
    finally:
        archive.unlink()


def fetch(args: argparse.Namespace) -> None:
    """The init container's work: context, repo2docker config, writable Docker config."""
    from builders.executors.docker import R2D_CONFIG

    config = Path(args.docker_config) if args.docker_config else None
    store = ContextStore(args.registry, docker_config=config)
    unpack(store.get_blob(args.repository, args.digest), Path(args.dest))
    if args.r2d_config:
        Path(args.r2d_config).write_text(R2D_CONFIG)
    if args.docker_config_out:
        out = Path(args.docker_config_out)
        out.mkdir(parents=True, exist_ok=True)
        if config is not None and config.exists():
            # buildx writes state next to config.json: a secret mount is read-only
            shutil.copyfile(config, out / "config.json")
            os.chmod(out / "config.json", 0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m builders.executors.context_blob")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download, verify and unpack a build context blob")
    f.add_argument("--registry", required=True, help="registry base URL, e.g. https://reg.example.org")
    f.add_argument("--repository", required=True)
    f.add_argument("--digest", required=True)
    f.add_argument("--dest", required=True)
    f.add_argument("--docker-config", default="", help="Docker config.json with credentials")
    f.add_argument("--docker-config-out", default="", help="directory for a writable copy of it")
    f.add_argument("--r2d-config", default="", help="where to write the repo2docker config")
    args = parser.parse_args(argv)
    try:
        fetch(args)
    except (RegistryError, ContextError, OSError, tarfile.TarError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"build context {args.digest[:19]} unpacked into {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
