"""Benchmark of what the Kubernetes executor adds to a build: moving the context through the registry.

A build pod cannot read the launcher's disk, so every Kubernetes build packs the fetched
tree, uploads it as a registry blob, and the pod's init container downloads, verifies and
unpacks it (builders/executors/context_blob.py). Measured here against a real registry
(Debian's docker-registry on loopback) for trees of three sizes (mixed small text files
and incompressible data, like a repository with a data file), three runs each, median:

- ``pack_s``, ``upload_s``, ``fetch_s`` (download + digest check + safe unpack), and their sum;
- baseline in the same run: ``cp -r`` of the same tree (what the Docker executor needs:
  nothing, it reads the directory; a local copy is the cheapest comparable transfer);
- ``repeat_upload_s``: a second replica uploading the same context (the blob exists: HEAD only).

Not measured (no cluster here): pod scheduling, image pulls, the network between nodes.
Last line: one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builders.executors.context_blob import ContextStore, pack, unpack  # noqa: E402
from tests.harness.registry import start_registry  # noqa: E402

SIZES_MB = (1, 10, 50)
RUNS = 3


def make_tree(root: Path, megabytes: int) -> Path:
    """~70 % small text files (compressible), ~30 % one random data file."""
    (root / "src").mkdir(parents=True)
    text_bytes = int(megabytes * 0.7 * 1024 * 1024)
    line = "print('a line of code in a research repository')\n" * 200  # ~10 kB files
    n = max(1, text_bytes // len(line))
    for i in range(n):
        (root / "src" / f"module_{i:05d}.py").write_text(line)
    (root / "data.bin").write_bytes(os.urandom(int(megabytes * 0.3 * 1024 * 1024)))
    (root / "binder").mkdir()
    (root / "binder" / "Dockerfile").write_text("FROM local/jupyter-base:6.1.1\n")
    return root


def timed(fn, *args):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def measure(store: ContextStore, tree: Path, work: Path, run: int) -> dict[str, float]:
    copy_s, _ = timed(shutil.copytree, tree, work / f"copy-{run}")
    pack_s, data = timed(pack, tree)
    repo = f"bench/contexts-{os.getpid()}-{run}-{tree.name}"
    upload_s, digest = timed(store.put_blob, repo, data)
    repeat_s, _ = timed(store.put_blob, repo, data)
    t0 = time.perf_counter()
    unpack(store.get_blob(repo, digest), work / f"unpacked-{run}")
    fetch_s = time.perf_counter() - t0
    return {"copy_s": copy_s, "pack_s": pack_s, "upload_s": upload_s, "fetch_s": fetch_s,
            "repeat_upload_s": repeat_s, "packed_mb": len(data) / 1024 / 1024}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-k8s-context-"))
    registry = start_registry(tmp / "registry")
    results: dict[str, dict[str, float]] = {}
    try:
        store = ContextStore(registry.url)
        for size in SIZES_MB:
            tree = make_tree(tmp / f"tree-{size}mb", size)
            runs = [measure(store, tree, tmp / f"work-{size}", i) for i in range(RUNS)]
            med = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
            med["total_s"] = round(med["pack_s"] + med["upload_s"] + med["fetch_s"], 3)
            med["total_over_copy"] = round(med["total_s"] / max(med["copy_s"], 1e-6), 1)
            results[f"{size}MB"] = med
            print(f"{size} MB: {med}", file=sys.stderr)
    finally:
        registry.stop()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    print(json.dumps({"bench": "k8s_context", "runs": RUNS, "results": results}))


if __name__ == "__main__":
    main()
