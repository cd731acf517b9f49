"""``nfdi-launcher receipt verify`` as a person runs it: against a launcher's JWKS URL, then
offline from a saved JWKS once that launcher is stopped; and ``nfdi-launcher build`` issuing
a receipt for a build without a launch."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from launcher.receipts.signing import KeyRing
from tests.launcher._client import get
from tests.launcher.receipts.conftest import facts
from tests.launcher.receipts.test_routes import serve_launcher

pytestmark = pytest.mark.asyncio(loop_scope="session")

NFDI_LAUNCHER = str(Path(sys.executable).parent / "nfdi-launcher")


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The command as a subprocess (the test's event loop keeps serving meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        NFDI_LAUNCHER, *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})})
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    return int(proc.returncode or 0), out.decode()


async def test_verify_online_then_offline_with_the_launcher_stopped(tmp_path: Path) -> None:
    async with serve_launcher(tmp_path) as (url, receipts):
        doc = await receipts.issue(facts(issuer=url))
        rid = doc["receipt"]["id"]
        saved = tmp_path / "receipt.json"
        saved.write_bytes((await get(f"{url}api/v1/receipts/{rid}")).body)
        (tmp_path / "jwks.json").write_bytes((await get(f"{url}.well-known/jwks.json")).body)
        crate = tmp_path / "crate.zip"
        crate.write_bytes((await get(f"{url}api/v1/receipts/{rid}/ro-crate.zip")).body)
        code, out = await run("receipt", "verify", str(saved))  # keys from the receipt's jwks_url
        assert code == 0, out
        assert f"OK: receipt {rid}" in out
        assert f"{url}.well-known/jwks.json" in out
    # the launcher is gone: its URL answers nothing, the saved key set still verifies
    code, out = await run("receipt", "verify", str(saved))
    assert code == 2, out
    assert "cannot fetch the keys" in out
    for path in (saved, crate):  # the JSON, or the RO-Crate that carries it
        code, out = await run("receipt", "verify", str(path), "--jwks", str(tmp_path / "jwks.json"))
        assert code == 0, out
        assert f"OK: receipt {rid}" in out
    with zipfile.ZipFile(crate) as z:  # the crate's own key set verifies it too
        (tmp_path / "crate-jwks.json").write_bytes(z.read("jwks.json"))
    code, out = await run("receipt", "verify", str(crate), "--jwks", str(tmp_path / "crate-jwks.json"))
    assert code == 0, out


async def test_verify_says_what_is_wrong(tmp_path: Path) -> None:
    async with serve_launcher(tmp_path) as (url, receipts):
        doc = await receipts.issue(facts(issuer=url))
        jwks = receipts.jwks()
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    tampered = json.loads(json.dumps(doc))
    tampered["receipt"]["image"]["digest"] = "sha256:" + "0" * 64
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    code, out = await run("receipt", "verify", str(tmp_path / "tampered.json"), "--jwks",
                          str(tmp_path / "jwks.json"))
    assert code == 1
    assert "FAILED: the signature does not match the receipt: a field was changed" in out
    KeyRing(tmp_path / "other").signing_key()  # another launcher's key set
    (tmp_path / "other.json").write_text(json.dumps(KeyRing(tmp_path / "other").jwks()))
    (tmp_path / "r.json").write_text(json.dumps(doc))
    code, out = await run("receipt", "verify", str(tmp_path / "r.json"), "--jwks", str(tmp_path / "other.json"))
    assert code == 1
    assert f"FAILED: signed by key '{doc['signature']['kid']}', which is not in" in out
    (tmp_path / "junk.json").write_text("[1, 2]")
    code, out = await run("receipt", "verify", str(tmp_path / "junk.json"), "--jwks", str(tmp_path / "jwks.json"))
    assert code == 2
    assert "is not a JSON object" in out


@pytest.mark.docker
async def test_build_without_launch_issues_a_receipt(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "binder").mkdir(parents=True)
    (repo / "binder" / "Dockerfile").write_text("FROM local/jupyter-base:6.1.1\nCOPY --chown=1000:1000 . /home/jovyan/\n")
    (repo / "README.md").write_text(f"receipt build test {tmp_path.name}\n")
    state = tmp_path / "state"
    env = {"NFDI_LAUNCHER_STATE_DIR": str(state)}
    code, out = await run("build", str(repo), "--receipt", str(tmp_path / "r.json"),
                          "--image-prefix", "nfdi-test-receipts/", "--state-dir", str(tmp_path / "builds"),
                          env=env)
    try:
        assert code == 0, out[-2000:]
        doc = json.loads((tmp_path / "r.json").read_text())
        body = doc["receipt"]
        assert f"receipt {body['id']}" in out
        assert body["kind"] == "build"
        assert body["system"] is None
        assert body["build"]["content_digest"].startswith("sha256:")
        assert body["image"]["name"] == out.strip().splitlines()[-1]
        (tmp_path / "jwks.json").write_text(json.dumps(KeyRing(state / "receipt-keys").jwks()))
        code, out = await run("receipt", "verify", str(tmp_path / "r.json"), "--jwks", str(tmp_path / "jwks.json"))
        assert code == 0, out
    finally:
        images = subprocess.run(["docker", "images", "-q", "nfdi-test-receipts/*"], capture_output=True,
                                text=True, check=False).stdout.split()
        if images:
            subprocess.run(["docker", "rmi", "-f", *images], capture_output=True, check=False)
