"""Base images in the stack's registry before its URL is printed: no big push on a first launch.

A build ``FROM local/jupyter-base`` pushes its own layers and, the first time, every layer of
the base image too (326 MB compressed here: 20-70 s on a 2-core machine). BuildKit skips a
layer the registry already has in the target repository, or mounts it from another
repository of the same registry that it pushed or found it in before. It remembers those
per ``host:port``, and a new stack (or one whose registry port was taken) has a new one. So:

1. ``scripts/setup.sh`` makes a **seed** once per machine: a registry storage holding the base
   images, pushed by BuildKit (so the compressed digests are the ones later builds produce),
   under ``nfdi-launcher/seed/<image>:<tag>-<image id>``.
2. On start, the stack links the seed's blobs into its own registry storage (hard links:
   instant, no extra disk; blobs are immutable) and copies the seed repositories' metadata.
3. It pushes each seed image once more, to its own registry: every layer is already there
   (about 0.3 s), and BuildKit now knows where to mount the layers from for every new
   repository on this registry.

Without a seed (setup.sh not run), step 3 uploads the layers itself, still before the URL
is printed. Run ``python -m launcher.cli.stack_seed --storage DIR IMAGE...`` to (re)make a seed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import yaml
from jupyterhub.utils import random_port

SEED_PREFIX = "nfdi-launcher/seed/"
V2 = Path("docker", "registry", "v2")
DEFAULT_SEED = Path(os.environ.get("NFDI_LAUNCHER_STATE", "/var/lib/nfdi-launcher"),
                    "registry-seed")


class SeedError(RuntimeError):
    """A seed image could not be put into the registry."""


def seed_reference(image: str, image_id: str) -> tuple[str, str]:
    """Repository and tag of *image*'s seed: the tag carries the image id, so a rebuilt base
    image gets a new seed (pure)."""
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    digest = image_id.removeprefix("sha256:")[:12]
    return SEED_PREFIX + slug, re.sub(r"[^A-Za-z0-9_.-]+", "-", tag)[:100] + "-" + digest


def _docker(*args: str, timeout: float = 60) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True,  # noqa: S603
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise SeedError(f"docker {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout.strip()


def has_tag(storage: Path, repo: str, tag: str) -> bool:
    return (storage / V2 / "repositories" / repo / "_manifests" / "tags" / tag / "current"
            / "link").is_file()


def link_seed(seed: Path, storage: Path, repo: str) -> None:
    """Hard-link the seed's blobs into *storage* and copy *repo*'s metadata (small files the
    registry rewrites in place, so they must not be shared)."""
    for src in (seed / V2 / "blobs").rglob("*"):
        if not src.is_file():
            continue
        dst = storage / V2 / "blobs" / src.relative_to(seed / V2 / "blobs")
        if dst.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:  # another file system: copy
            shutil.copy2(src, dst)
    target = storage / V2 / "repositories" / repo
    if not target.exists():
        shutil.copytree(seed / V2 / "repositories" / repo, target)


def push_seed(host: str, image: str, repo: str, tag: str, timeout: float = 900) -> float:
    """``docker buildx build --push`` of ``FROM <image>`` to ``host/repo:tag``; seconds taken."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nfdi-seed-") as ctx:
        Path(ctx, "Dockerfile").write_text(f"FROM {image}\nLABEL org.nfdi-launcher.seed-of={image}\n")
        _docker("buildx", "build", "--progress", "plain", "--push", "-t", f"{host}/{repo}:{tag}",
                ctx, timeout=timeout)
    return time.monotonic() - started


def seed_registry(storage: Path, host: str, images: list[str],
                  seed: Path | None = DEFAULT_SEED) -> list[str]:
    """Make the registry serving *storage* at *host* hold *images* and let BuildKit know;
    returns one line per image for the operator."""
    notes = []
    for image in images:
        repo, tag = seed_reference(image, _docker("image", "inspect", "-f", "{{.Id}}", image))
        how = "already there"
        if not has_tag(storage, repo, tag):
            how = "pushed, one-off"
            if seed is not None and has_tag(seed, repo, tag):
                link_seed(seed, storage, repo)
                how = f"linked from {seed}"
        seconds = push_seed(host, image, repo, tag)
        notes.append(f"{image} as {host}/{repo}:{tag} ({how}, {seconds:.1f} s)")
    return notes


def make_seed(seed: Path, images: list[str], wait: float = 30) -> list[str]:
    """Fill the seed storage *seed* through a temporary registry on a free loopback port."""
    seed.mkdir(parents=True, exist_ok=True)
    port = random_port()
    config = seed.parent / f"{seed.name}.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(seed.resolve())}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    binary = shutil.which("docker-registry") or "docker-registry"
    proc = subprocess.Popen([binary, "serve", str(config)],  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SeedError("the temporary registry for the seed did not answer")
            time.sleep(0.2)
        return seed_registry(seed, f"127.0.0.1:{port}", images, seed=None)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--storage", type=Path, default=DEFAULT_SEED,
                        help=f"seed registry storage (default {DEFAULT_SEED})")
    parser.add_argument("images", nargs="+", help="local images builds start from")
    args = parser.parse_args(argv)
    for image in args.images:
        repo, tag = seed_reference(image, _docker("image", "inspect", "-f", "{{.Id}}", image))
        if has_tag(args.storage, repo, tag):
            print(f"seed: {image} already in {args.storage}")
            continue
        for note in make_seed(args.storage, [image]):
            print(f"seed: {note}")


if __name__ == "__main__":
    main()
