"""What an image says about where it came from: labels set at build time, facts of the build.

Labels (pure, :func:`image_labels`): the OCI annotations ``org.opencontainers.image.source``,
``.revision``, ``.version``, ``.created`` plus ours under ``de.nfdi.launcher.``
(``identifier``, ``chain-digest``, ``content-digest``).

Labels never change the image's *tag*: the tag is derived from the content digest and the
builder's salt only (:mod:`builders.naming`). They are part of the image's config, so they
do change its *digest* — hence every label value is derived from the pinned content, never
from the clock: ``.created`` is the commit time of a git target (the reproducible-builds
``SOURCE_DATE_EPOCH`` convention), omitted when the content has no such date. BuildKit
then produces the same image digest when the same content is rebuilt from its cache, and
a rebuilt image can be recognised as identical. The wall-clock build time is recorded in
the receipt (``build.built_at``), not in the image.

Build facts (:func:`base_image_from_log`): the base image and, where BuildKit reports it,
its digest, read from repo2docker's build log (``#4 [1/2] FROM host/name:tag@sha256:...``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from fdo.target import LaunchTarget

OCI = "org.opencontainers.image."
OURS = "de.nfdi.launcher."
_FROM_LINE = re.compile(r"^#\d+ \[(?:[^\]]*\s)?\d+/\d+\] FROM (\S+?)(?:@(sha256:[0-9a-f]{64}))?\s*$")


def chain_digest(identifier: str, chain: list[dict[str, str]]) -> str:
    """``sha256:<hex>`` of the identifier and its resolution chain (canonical JSON); the
    launcher's receipts carry the same value."""
    data = json.dumps({"identifier": identifier, "chain": chain}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def version_of(target: LaunchTarget) -> str:
    """The human version of the content: the git tag or record version, else the ref."""
    prov = target.provenance
    for key in ("git_tag", "version", "record_version"):
        if prov.get(key):
            return str(prov[key])
    return target.ref


def image_labels(target: LaunchTarget, content_digest: str, created: str = "") -> dict[str, str]:
    """The labels of the image built from *target* (pure; every value from the content)."""
    chain = [h.to_json() for h in target.chain]
    labels = {
        OCI + "source": target.source,
        OCI + "revision": target.ref,
        OCI + "version": version_of(target),
        OURS + "identifier": target.identifier,
        OURS + "chain-digest": chain_digest(target.identifier, chain),
        OURS + "content-digest": content_digest,
    }
    if created:
        labels[OCI + "created"] = created
    return labels


def commit_time(context_dir: Path) -> str:
    """Committer date (RFC 3339) of the checked-out commit of a fetched git target, or ""."""
    git = shutil.which("git")
    if git is None or not (context_dir / ".git").exists():
        return ""
    try:
        proc = subprocess.run(  # noqa: S603 -- fixed arguments, our own checkout
            [git, "--git-dir", str(context_dir / ".git"), "show", "-s", "--format=%cI", "HEAD"],
            capture_output=True, text=True, timeout=30, check=False,
            env={"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(context_dir), "PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def base_image_from_log(message: str) -> tuple[str, str] | None:
    """(name, digest or "") of a BuildKit ``FROM`` line, None for any other line."""
    found = _FROM_LINE.match(message.strip())
    if found is None:
        return None
    return found.group(1), found.group(2) or ""
