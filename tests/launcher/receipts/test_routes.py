"""The receipt routes of a launcher over HTTP: JSON, JWKS, page, RO-Crate, relaunch refusals."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from launcher.app import make_app
from launcher.receipts.book import Receipts
from launcher.receipts.model import canonical, make_body
from launcher.receipts.signing import KeyRing, sign
from launcher.receipts.table import insert
from tests.harness.rocrate_offline import seed_cache, validate
from tests.launcher._client import body_json, get, read_stream, serving
from tests.launcher.receipts.conftest import COMMIT, DIGEST, IMAGE, facts
from tests.launcher.test_app import make_config

#: the app fixture serves on the session's loop: the tests must run on it too
pytestmark = pytest.mark.asyncio(loop_scope="session")

#: the launcher of these tests keeps images under this registry prefix
ALLOWED = "127.0.0.1:5000/nfdi-launcher/"


@asynccontextmanager
async def serve_launcher(tmp_path: Path, **kw: Any) -> AsyncIterator[tuple[str, Receipts]]:
    config = make_config(state_dir=str(tmp_path / "state"), **kw)
    cfg = Config(config.config)
    cfg.Receipts = Config({"allowed_image_prefixes": [ALLOWED], "key_dir": str(tmp_path / "keys")})
    config.config = cfg
    app = make_app(config)
    try:
        async with serving(app) as url:
            yield url, app.settings["state"].receipts
    finally:
        app.settings["state"].store.close()


@pytest.fixture
async def launcher(tmp_path: Path) -> AsyncIterator[tuple[str, Receipts]]:
    async with serve_launcher(tmp_path) as served:
        yield served


async def test_receipt_json_with_links_and_its_openapi_description(launcher: tuple[str, Receipts]) -> None:
    url, receipts = launcher
    doc = await receipts.issue(facts())
    rid = doc["receipt"]["id"]
    r = await get(f"{url}api/v1/receipts/{rid}")
    assert r.code == 200
    served = body_json(r)
    assert served["receipt"] == doc["receipt"]
    assert served["signature"]["jws"] == doc["signature"]["jws"]
    assert served["links"]["page"] == f"{url}receipt/{rid}"
    assert served["links"]["relaunch"] == f"{url}v2/receipt/{rid}"
    body = served["receipt"]
    assert body["identifier"] == "https://git.example.org/o/r/tree/main"
    assert body["target"]["ref"] == COMMIT
    assert body["image"] == {"name": IMAGE, "digest": DIGEST, "cached": False}
    assert body["build"]["repo2docker_version"] == "2026.4.0"
    assert [h["via"] for h in body["chain"]] == ["forge URL", "git ls-remote"]
    assert body["created"].endswith("Z")
    openapi = body_json(await get(url + "api/v1/openapi.json"))
    for path in ("/api/v1/receipts/{id}", "/api/v1/receipts/{id}/ro-crate.zip",
                 "/.well-known/jwks.json", "/v2/receipt/{id}"):
        assert path in openapi["paths"]
    assert "Receipt" in openapi["components"]["schemas"]


@pytest.mark.parametrize("rid,code,message", [
    ("AAAAAAAAAAAAAAAAAAAAAAAAAA", 400, "malformed receipt id"),
    ("a" * 27, 400, "malformed receipt id"),
    ("..%2F..%2Fetc", 400, "malformed receipt id"),
    ("a" * 26, 404, "no receipt aaaaaaaaaaaaaaaaaaaaaaaaaa on this launcher"),
])
async def test_unknown_or_malformed_ids_are_refused_clearly(
        launcher: tuple[str, Receipts], rid: str, code: int, message: str) -> None:
    url, _receipts = launcher
    api = await get(f"{url}api/v1/receipts/{rid}")
    assert api.code == code
    assert message in body_json(api)["message"]
    page = await get(f"{url}receipt/{rid}")
    assert page.code == code
    assert message in page.body.decode()
    assert (await get(f"{url}api/v1/receipts/{rid}/ro-crate.zip")).code == code
    _status, _h, evs, _n = await read_stream(f"{url}build/receipt/{rid}")
    assert evs[-1]["phase"] == "failed"
    assert evs[-1]["status_code"] == code
    launch = await get(f"{url}launch?receipt={rid}")
    if code == 400:
        assert launch.code == 400
    else:  # well-formed: sent to the relaunch page, which says it is unknown
        assert launch.headers["Location"] == f"/v2/receipt/{rid}"
        assert (await get(f"{url}v2/receipt/{rid}")).code == 404


async def test_jwks_at_the_base_url_and_behind_the_hub_prefix(tmp_path: Path) -> None:
    async with serve_launcher(tmp_path, base_url="/services/launcher/") as (url, _receipts):
        assert url.endswith("/services/launcher/")
        r = await get(url + ".well-known/jwks.json")
        assert r.code == 200
        assert r.headers["Content-Type"] == "application/jwk-set+json"
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        keys = json.loads(r.body)["keys"]
        assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("OKP", "Ed25519", "Ed25519")]
        assert "d" not in keys[0]


async def test_the_page_shows_chain_digests_citation_and_relaunch(launcher: tuple[str, Receipts]) -> None:
    url, receipts = launcher
    doc = await receipts.issue(facts())
    rid = doc["receipt"]["id"]
    r = await get(f"{url}receipt/{rid}")
    assert r.code == 200
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    html = r.body.decode()
    assert "<script>" not in html  # no inline code
    for text in (COMMIT, DIGEST, "sha256:" + "c" * 64, "git ls-remote", "2026.4.0",
                 f'href="/v2/receipt/{rid}"', "Relaunch exactly this", 'id="copy-citation"',
                 f"nfdi-launcher reproducibility receipt {rid}"):
        assert text in html, text


async def test_ro_crate_zip_validates_offline(launcher: tuple[str, Receipts], tmp_path: Path) -> None:
    from rocrate.rocrate import ROCrate

    url, receipts = launcher
    doc = await receipts.issue(facts())
    rid = doc["receipt"]["id"]
    r = await get(f"{url}api/v1/receipts/{rid}/ro-crate.zip")
    assert r.code == 200
    assert r.headers["Content-Type"] == "application/zip"
    assert f"receipt-{rid}-ro-crate.zip" in r.headers["Content-Disposition"]
    crate_dir = tmp_path / "crate"
    with zipfile.ZipFile(io.BytesIO(r.body)) as z:
        z.extractall(crate_dir)
    # ro-crate-py reads it back: the action, its image by digest, the signed receipt inside
    crate = ROCrate(str(crate_dir))
    action = crate.get(f"#launch-{rid}")
    assert action.type == "CreateAction"
    assert action["result"]["sha256"] == DIGEST.removeprefix("sha256:")
    assert action["instrument"]["version"] == COMMIT
    assert json.loads((crate_dir / "receipt.json").read_text())["receipt"] == doc["receipt"]
    # JSON-LD: every term is defined by the RO-Crate context or by our extra terms (full IRIs)
    meta = json.loads((crate_dir / "ro-crate-metadata.json").read_text())
    assert meta["@context"][0] == "https://w3id.org/ro/crate/1.3/context"
    assert all(v.startswith("https://w3id.org/ro/terms/workflow-run#") for v in meta["@context"][1].values())
    # rocrate-validator, offline: the crate is RO-Crate 1.3 (what ro-crate-py writes) and meets
    # the Process Run Crate 0.5 rules (that profile names RO-Crate 1.1, so its own rules only)
    cache = seed_cache(tmp_path / "validator-cache")
    issues: set[str] = set()
    for profile, inherit in (("ro-crate-1.3", True), ("process-run-crate-0.5", False)):
        _ok, report = validate(crate_dir, cache, profile, "recommended", inherit)
        found = json.loads(report)
        assert found["statistics"]["total_checks_by_severity"]["REQUIRED"] > 0, report[-2000:]
        assert [i for i in found["issues"] if i["severity"] == "REQUIRED"] == []
        issues |= {i["check"]["identifier"] for i in found["issues"]}
    # recommendations left out on purpose: no agent (who launched is private), and what only
    # the installation can add (ROR id and contact of its organization, content negotiation)
    assert issues <= {"process-run-crate-0.5_8.6"} | RECOMMENDED_13, issues


#: RO-Crate 1.3 recommendations an installation fills in, not the launcher (see docs/launcher.md)
RECOMMENDED_13 = {"ro-crate-1.3_51.1", "ro-crate-1.3_89.0", "ro-crate-1.3_90.1", "ro-crate-1.3_93.0"}


async def test_relaunch_refuses_an_image_outside_the_registry(launcher: tuple[str, Receipts]) -> None:
    url, receipts = launcher
    doc = await receipts.issue(facts(image=f"evil.example.org/x:1@{DIGEST}"))
    rid = doc["receipt"]["id"]
    _s, _h, evs, _n = await read_stream(f"{url}build/receipt/{rid}")
    assert len(evs) == 1
    assert evs[0]["phase"] == "failed"
    assert evs[0]["status_code"] == 403
    assert f"'evil.example.org/x:1@{DIGEST}'" in evs[0]["message"]
    assert "not from this launcher's registry" in evs[0]["message"]


async def test_relaunch_refuses_a_receipt_signed_by_a_key_not_in_the_jwks(
        launcher: tuple[str, Receipts], tmp_path: Path) -> None:
    url, receipts = launcher
    foreign = KeyRing(tmp_path / "foreign").signing_key()
    body = make_body("b" * 26, facts())
    await receipts.store.call(insert, body["id"], body, canonical(body).decode(),
                              sign(body, foreign), "")
    _s, _h, evs, _n = await read_stream(f"{url}build/receipt/{body['id']}")
    assert evs[-1]["phase"] == "failed"
    assert evs[-1]["status_code"] == 409
    assert f"signed by key '{foreign.kid}', which is not in the launcher's key set" in evs[-1]["message"]


async def test_my_receipts_needs_a_login(launcher: tuple[str, Receipts]) -> None:
    url, _receipts = launcher
    r = await get(f"{url}api/v1/receipts")
    assert r.code == 403
    assert "Log in" in body_json(r)["message"]



async def test_the_page_shows_hostile_text_as_text(launcher: tuple[str, Receipts]) -> None:
    from tests.launcher.receipts.conftest import target

    url, receipts = launcher
    evil = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    doc = await receipts.issue(facts(target=target(identifier=evil)))
    html = (await get(f"{url}receipt/{doc['receipt']['id']}")).body.decode()
    assert "<img src=x" not in html
    assert "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
