"""A replayed DOI end to end: Zenodo record -> files zip -> image -> server on a real hub.

The record is CONSTRUCTED for this test (Zenodo's real JSON shape, taken from the
recorded fixture ``zenodo-record-7834392.json``, with a new id, DOI and one zip file
holding a Dockerfile repository) and served by the replay server under Zenodo's URL
paths; everything else (resolver, fetch with checksum, repo2docker build, JupyterHub,
DockerSpawner) runs for real.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from builders import BuildManager
from fdo.resolve import Resolution
from launcher import events
from launcher.app import make_app
from launcher.handoff.hubapi import HubApiHandOff
from launcher.pipeline import Pipeline
from tests import fixtures
from tests.launcher._client import get, read_stream, serving
from tests.launcher.e2e import IMAGE_PREFIX, launcher_config
from tests.launcher.test_launch_hub import assert_server_answers, hub  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

RECID = "990001"
DOI = f"10.5281/zenodo.{RECID}"
FILES = {
    "binder/Dockerfile": "FROM local/jupyter-base:6.1.1\nCOPY --chown=1000:1000 . /home/jovyan/\nWORKDIR /home/jovyan\n",
    "index.ipynb": json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# from a DOI"]}],
                               "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
    "README.md": "constructed Zenodo record for the launcher test\n",
}


def zenodo_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in FILES.items():
            zf.writestr(f"demo-repo-v2.0/{name}", text)  # one top-level folder, as GitHub zips
    return buf.getvalue()


def constructed_record(data: bytes) -> dict[str, Any]:
    record = json.loads((fixtures.API / "zenodo-record-7834392.json").read_text())
    base = f"https://zenodo.org/api/records/{RECID}"
    record.update(id=int(RECID), recid=RECID, conceptrecid="990000", doi=DOI,
                  doi_url=f"https://doi.org/{DOI}", title="Launcher DOI demo")
    record["metadata"].update(title="Launcher DOI demo", version="v2.0", doi=DOI, related_identifiers=[])
    record["links"].update(self=base, latest=base, files=f"{base}/files")
    record["files"] = [{"id": "f1", "key": "demo-repo-v2.0.zip", "size": len(data),
                        "checksum": "md5:" + hashlib.md5(data).hexdigest(),  # noqa: S324 - Zenodo's format
                        "links": {"self": f"{base}/files/demo-repo-v2.0.zip/content"}}]
    record.pop("swh", None)
    return record


def constructed_datacite() -> dict[str, Any]:
    """DataCite's answer for the constructed DOI (shape of the recorded 10.5281/zenodo.48440)."""
    doc = json.loads((fixtures.API / "datacite-10.5281-zenodo.48440.json").read_text())
    attrs = doc["data"]["attributes"]
    doc["data"]["id"] = DOI
    attrs.update(doi=DOI, suffix=f"zenodo.{RECID}", url=f"https://zenodo.org/records/{RECID}",
                 relatedIdentifiers=[], identifiers=[], alternateIdentifiers=[],
                 titles=[{"title": "Launcher DOI demo"}], version="v2.0")
    return doc


async def test_launch_a_replayed_doi(hub: Any, replay: Any, rewrites_env: dict[str, str],  # noqa: F811
                                     tmp_path: Path) -> None:
    data = zenodo_zip()
    replay.add(f"https://zenodo.org/api/records/{RECID}", body=constructed_record(data))
    replay.add(f"https://api.datacite.org/dois/{DOI}", body=constructed_datacite())
    replay.add(f"https://zenodo.org/api/records/{RECID}/files/demo-repo-v2.0.zip/content", body=data)
    config = launcher_config(hub)
    builder = BuildManager(image_prefix=IMAGE_PREFIX, state_dir=str(tmp_path / "builds"))
    pipeline = Pipeline(config, Resolution().resolve, builder, HubApiHandOff(config))
    async with serving(make_app(config, pipeline=pipeline)) as url:
        # the universal entry: a record URL -> the pinned /v2/ link of its DOI
        r = await get(url + "launch?id=" + quote(f"https://zenodo.org/records/{RECID}", safe="") + "&labpath=index.ipynb")
        assert r.code == 302, r.body
        location = r.headers["Location"]
        assert location.startswith("/v2/"), location
        v2_path = location.split("?", 1)[0].removeprefix("/v2/")
        _code, _h, evs, _c = await read_stream(url + "build/" + v2_path, timeout=400)
    assert events.validate_stream(evs) == [], evs[-3:]
    ready = evs[-1]
    assert ready["phase"] == "ready", ready.get("message")
    assert ready["target"]["kind"] == "archive"
    assert ready["target"]["provider"] == "zenodo"
    assert ready["target"]["ref"].startswith(RECID)
    assert ready["target"]["files"][0]["name"] == "demo-repo-v2.0.zip"
    await assert_server_answers(ready)
    nb = await get(ready["url"] + "api/contents/index.ipynb", headers={"Authorization": f"token {ready['token']}"})
    assert nb.code == 200
    assert b"from a DOI" in nb.body
