"""Build the project's images (helm/Dockerfile) for tests, tagged by their content.

The tag is a digest of everything the image is made of, so an unchanged tree reuses the
image and a changed one rebuilds only the last layers (seconds; the dependency layer is
rebuilt only when pyproject.toml changes).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

from tests.helm import charts

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


def docker_run_options(rendered: charts.Rendered, name: str, workdir: Path,
                       external: dict[str, dict[str, bytes]] | None = None) -> tuple[list[str], dict[str, Any]]:
    """``docker run`` options equivalent to the rendered container ``name``: its user,
    read-only root (/tmp writable), no capabilities, its environment (Secret values from the
    rendered Secrets), ConfigMap and Secret files where it mounts them (``external``: the
    data of Secrets the operator creates), claims as empty directories. Returns (options,
    container)."""
    deployment = next(d for d in rendered.all("Deployment"))
    spec = deployment["spec"]["template"]["spec"]
    container = charts.container(deployment["spec"]["template"], name)
    secrets = {s["metadata"]["name"]: s for s in rendered.all("Secret")}
    opts = ["--read-only", "--tmpfs", "/tmp:rw,mode=1777",
            "--user", str(container["securityContext"]["runAsUser"]), "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges"]
    for env in container["env"]:
        if "value" in env:
            opts += ["-e", f"{env['name']}={env['value']}"]
        elif ref := env["valueFrom"].get("secretKeyRef"):
            data = secrets[ref["name"]].get("stringData", {})
            if ref["key"] in data:
                opts += ["-e", f"{env['name']}={data[ref['key']]}"]
            else:
                assert ref.get("optional"), f"{ref} missing"
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container["volumeMounts"]:
        vol = volumes[mount["name"]]
        target = workdir / mount["name"]
        if "configMap" in vol:
            cm = rendered.get("ConfigMap", vol["configMap"]["name"])
            src = workdir / mount["subPath"]
            src.write_text(cm["data"][mount["subPath"]])
            opts += ["-v", f"{src}:{mount['mountPath']}:ro"]
        elif "secret" in vol:
            secret_name = vol["secret"]["secretName"]
            if secret_name in (external or {}):
                data = dict((external or {})[secret_name])
            else:
                secret = secrets[secret_name]
                data = {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}
                data.update({k: v.encode() for k, v in secret.get("stringData", {}).items()})
            target.mkdir()
            items = vol["secret"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                (target / item["path"]).write_bytes(data[item["key"]])
            opts += ["-v", f"{target}:{mount['mountPath']}:ro"]
        elif "persistentVolumeClaim" in vol:
            target.mkdir(mode=0o777)
            target.chmod(0o777)  # a fresh claim, writable by the pod's fsGroup
            opts += ["-v", f"{target}:{mount['mountPath']}"]
    return opts, container
