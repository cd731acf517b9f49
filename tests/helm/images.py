"""Build the project's images (helm/Dockerfile) for tests, tagged by their content.

The tag is a digest of everything the image is made of, so an unchanged tree reuses the
image and a changed one rebuilds only the last layers (seconds; the dependency layer is
rebuilt only when pyproject.toml changes).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: what the image is made of (the rest of the tree is in .dockerignore); a new top-level
#: package shows up through its __init__.py
SOURCES = ("pyproject.toml", "README.md", "helm/Dockerfile", ".dockerignore",
           *(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"))


def source_digest() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def build_image(target: str) -> str:
    """``docker build`` the target (``launcher`` or ``builder``); returns the tag."""
    tag = f"nfdi-launcher-test-{target}:{source_digest()}"
    cmd = ["docker", "build", "-q", "-f", "helm/Dockerfile", "--target", target, "-t", tag]
    if CA_BUNDLE.exists():  # the path to PyPI here re-signs TLS
        cmd += ["--secret", f"id=pip-ca,src={CA_BUNDLE}"]
    proc = subprocess.run([*cmd, "."], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tag
