"""The tornado app in-process: base path, auth and the flavors endpoint (no containers)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from outpost.app import make_app
from outpost.manager import Outpost


@pytest.mark.parametrize("base_path", ["/", "/outpost/"])
async def test_routes_under_base_path(tmp_path: Path, base_path: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTPOST_CREDENTIALS", json.dumps({"hub": "pw"}))
    (tmp_path / "flavors.yaml").write_text("flavors: {tiny: {max: 1, weight: 1}}\n")
    outpost = Outpost(db_path=str(tmp_path / "db.sqlite"), flavors_path=str(tmp_path / "flavors.yaml"))
    server = HTTPServer(make_app(outpost, base_path))
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}{base_path}"
    auth = {"Authorization": "Basic " + base64.b64encode(b"hub:pw").decode()}
    client = AsyncHTTPClient()
    try:
        ping = await client.fetch(url + "ping")
        assert json.loads(ping.body) == {"ping": "pong!"}
        flavors = await client.fetch(url + "flavors/", headers=auth)
        assert json.loads(flavors.body)["tiny"]["current"] == 0
        with pytest.raises(HTTPClientError) as err:
            await client.fetch(url + "services/", headers={"Authorization": "Basic !!"})
        assert err.value.code == 401
        if base_path != "/":
            with pytest.raises(HTTPClientError) as err:
                await client.fetch(url.replace(base_path, "/") + "ping")
            assert err.value.code == 404
    finally:
        server.stop()
        outpost.store.close()
