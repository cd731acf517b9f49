"""Build the project's images (helm/Dockerfile) for tests, one tag per checkout.

``docker build`` runs every session: an unchanged tree is a full cache hit (a second or
two), a changed one rebuilds only the last layers (the dependency layer only when
pyproject.toml changes). The tag names this checkout, and the image it named before is
removed when a build replaces it, so repeated runs do not pile up images.
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


def build_image(target: str) -> str:
    """``docker build`` the target (``launcher`` or ``builder``); returns the tag."""
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    tag = f"nfdi-launcher-test-{target}:{checkout}"
    before = _image_id(tag)
    cmd = ["docker", "build", "-q", "-f", "helm/Dockerfile", "--target", target, "-t", tag]
    if CA_BUNDLE.exists():  # the path to PyPI here re-signs TLS
        cmd += ["--secret", f"id=pip-ca,src={CA_BUNDLE}"]
    proc = subprocess.run([*cmd, "."], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if before and before != _image_id(tag):
        # this checkout's previous image (no longer tagged); in use elsewhere: left alone
        subprocess.run(["docker", "rmi", before], capture_output=True, check=False)
    return tag


def _image_id(tag: str) -> str:
    proc = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", tag],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


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
