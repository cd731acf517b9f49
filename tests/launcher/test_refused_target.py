"""A target that carries a URL the launcher would refuse is a clear 403 on the JSON API,
never a partial target (issue 17). Records come from the bad-input corpus
(:mod:`tests.fdo.net.carried`, constructed in the recorded Zenodo and CKAN shapes)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from launcher.app import make_app
from launcher.failures import REASONS
from tests.fdo.net import carried
from tests.harness.canary import Canary
from tests.harness.replay import ReplayServer
from tests.launcher._client import body_json, get, serving
from tests.launcher.test_app import make_config


@pytest.mark.parametrize("case_id", ["zenodo-loopback", "ckan-mixed-loopback", "figshare-ftp"])
async def test_api_resolve_refuses_a_target_with_a_refused_url(
    case_id: str, replay: ReplayServer, canary: Canary, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case = carried.BY_ID[case_id]
    identifier, rewrites = carried.install(case, replay, canary.port)
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(rewrites))
    async with serving(make_app(make_config())) as url:
        resp = await get(url + "api/v1/resolve?id=" + quote(identifier, safe=""))
    body = body_json(resp)
    assert resp.code == 403, body
    assert set(body) == {"status", "message", "reason", "request_id", "next_action"}, \
        "no part of the target is returned"
    assert body["reason"] == "resolve_refused"
    # the person reads why in general terms (no address); the log has the record's URL and
    # the refused host under the request id the message shows
    assert body["message"] == (f"{REASONS['resolve_refused'].message} Request id: "
                               f"{body['request_id']}.")
    logged = [r.getMessage() for r in caplog.records if body["request_id"] in r.getMessage()]
    assert logged and case.host in logged[0] and case.reason in logged[0], logged
    assert canary.requests == []


async def test_api_resolve_still_answers_a_good_record(
    replay: ReplayServer, canary: Canary, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = carried.Carried("zenodo-good", "zenodo", "https://zenodo.org/api/records/1/files/a.csv/content",
                           "", "", mixed=True)
    identifier, rewrites = carried.install(case, replay, canary.port)
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(rewrites))
    async with serving(make_app(make_config())) as url:
        resp = await get(url + "api/v1/resolve?id=" + quote(identifier, safe=""))
    assert resp.code == 200
    assert len(body_json(resp)["files"]) == carried.GOOD + 1
