"""Build contexts through the registry (builders/executors/context_blob.py), for real.

The launcher side (pack, upload) and the build pod's init step (``python3 -m
builders.executors.context_blob fetch``, here as a subprocess) talk to the real local
registry (Debian's docker-registry), with and without basic auth.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from builders import naming
from builders.executors.context_blob import ContextError, ContextStore, blob_digest, pack
from builders.executors.docker import R2D_CONFIG
from tests.harness.registry import Registry

pytestmark = pytest.mark.registry


def tree(root: Path) -> Path:
    (root / "binder").mkdir(parents=True)
    (root / "binder" / "Dockerfile").write_text("FROM local/jupyter-base:6.1.1\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "data.bin").write_bytes(os.urandom(4096))
    (root / "link").symlink_to("run.sh")
    return root


def docker_config(path: Path, reg: Registry) -> Path:
    auths = {}
    if reg.username:
        auths[reg.host] = {"auth": base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()}
    path.write_text(json.dumps({"auths": auths}))
    return path


def fetch_cmd(reg: Registry, repo: str, digest: str, dest: Path, cfg: Path) -> list[str]:
    return [sys.executable, "-m", "builders.executors.context_blob", "fetch", "--registry", reg.url,
            "--repository", repo, "--digest", digest, "--dest", str(dest / "src"),
            "--docker-config", str(cfg), "--docker-config-out", str(dest / "docker"),
            "--r2d-config", str(dest / "r2d.py")]


def test_pack_is_reproducible(tmp_path: Path) -> None:
    root = tree(tmp_path / "ctx")
    first = pack(root)
    os.utime(root / "run.sh", (1, 1))  # other mtimes, same content
    assert pack(root) == first


@pytest.mark.parametrize("auth", [False, True], ids=["anonymous", "basic-auth"])
def test_upload_then_fetch_in_the_pod_step_gives_the_same_tree(
        auth: bool, registry: Registry, auth_registry: Registry, tmp_path: Path) -> None:
    reg = auth_registry if auth else registry
    cfg = docker_config(tmp_path / "config.json", reg)
    root = tree(tmp_path / "ctx")
    store = ContextStore(reg.url, docker_config=cfg)
    data = pack(root)
    digest = store.put_blob("nfdi-test/contexts", data)
    assert digest == blob_digest(data)
    assert store.has_blob("nfdi-test/contexts", digest)
    assert store.put_blob("nfdi-test/contexts", data) == digest  # idempotent (replicas race)

    out = tmp_path / "pod"
    proc = subprocess.run(fetch_cmd(reg, "nfdi-test/contexts", digest, out, cfg),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert naming.content_digest(out / "src") == naming.content_digest(root)
    assert os.readlink(out / "src" / "link") == "run.sh"
    assert (out / "r2d.py").read_text() == R2D_CONFIG
    assert json.loads((out / "docker" / "config.json").read_text()) == json.loads(cfg.read_text())
    assert (out / "docker" / "config.json").stat().st_mode & 0o777 == 0o600


def test_fetch_without_credentials_fails_clearly(auth_registry: Registry, tmp_path: Path) -> None:
    cfg = docker_config(tmp_path / "config.json", auth_registry)
    store = ContextStore(auth_registry.url, docker_config=cfg)
    digest = store.put_blob("nfdi-test/contexts", pack(tree(tmp_path / "ctx")))
    (tmp_path / "empty.json").write_text("{}")
    proc = subprocess.run(fetch_cmd(auth_registry, "nfdi-test/contexts", digest, tmp_path / "pod",
                                    tmp_path / "empty.json"),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "authentication failed" in proc.stderr
    assert auth_registry.password not in proc.stderr + proc.stdout


def test_unknown_digest_is_an_error(registry: Registry, tmp_path: Path) -> None:
    cfg = docker_config(tmp_path / "config.json", registry)
    proc = subprocess.run(fetch_cmd(registry, "nfdi-test/contexts", "sha256:" + "0" * 64, tmp_path / "pod", cfg),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "404" in proc.stderr


def hostile_archive(name: str, link: str | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        if link is not None:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        else:
            info.size = 2
            tar.addfile(info, io.BytesIO(b"x\n"))
    import gzip

    return gzip.compress(raw.getvalue())


@pytest.mark.parametrize(("member", "link"), [
    ("../escape.txt", None), ("/tmp/nfdi-abs-evil", None), ("evil-link", "/etc/passwd"), ("up", "../../x"),
])
def test_hostile_archives_are_refused(member: str, link: str | None, registry: Registry, tmp_path: Path) -> None:
    """Even a blob someone else pushed into the repository cannot write outside the tree."""
    cfg = docker_config(tmp_path / "config.json", registry)
    digest = ContextStore(registry.url).put_blob("nfdi-test/contexts", hostile_archive(member, link))
    proc = subprocess.run(fetch_cmd(registry, "nfdi-test/contexts", digest, tmp_path / "pod", cfg),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "unsafe archive" in proc.stderr
    assert not (tmp_path / "pod" / "escape.txt").exists()
    assert not Path("/tmp/nfdi-abs-evil").exists()


def test_oversized_context_is_refused(registry: Registry, tmp_path: Path) -> None:
    root = tree(tmp_path / "ctx")
    (root / "big.bin").write_bytes(os.urandom(300_000))
    with pytest.raises(ContextError, match="larger than"):
        pack(root, max_bytes=100_000)
    store = ContextStore(registry.url)
    digest = store.put_blob("nfdi-test/contexts", pack(root))
    with pytest.raises(ContextError, match="larger than"):
        store.get_blob("nfdi-test/contexts", digest, max_bytes=1000)


def test_unpack_without_extraction_filters_gives_the_same_tree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian 12's Python 3.11.2 (the images') has no tarfile filters: the fallback must
    give the tree the ``data`` filter gives (same content digest, exec bits kept)."""
    from builders.executors.context_blob import unpack

    data = pack(tree(tmp_path / "ctx"))
    unpack(data, tmp_path / "with-filter")
    monkeypatch.delattr(tarfile, "data_filter")
    unpack(data, tmp_path / "without")
    assert naming.content_digest(tmp_path / "without") == naming.content_digest(tmp_path / "with-filter")
    assert (tmp_path / "without" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "without" / "data.bin").stat().st_mode & 0o777 == 0o644
