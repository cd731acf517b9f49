"""The launcher over HTTP without a hub: routes, request rules, bad input, JSON shapes."""

from __future__ import annotations

import json
import socket
from urllib.parse import parse_qs, quote, urlparse

import pytest
from traitlets.config import Config

from launcher import buildtoken
from launcher.app import make_app
from launcher.config import LauncherConfig
from launcher.handoff import make_handoff
from launcher.pipeline import Pipeline
from tests.launcher._client import body_json, get, read_stream, serving


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_config(admission: dict[str, object] | None = None, **kw: object) -> LauncherConfig:
    """A launcher whose hub does not answer; *admission* settings go to ``c.Admission``."""
    cfg = Config()
    cfg.HubClient.api_token = "not-a-real-token"
    cfg.HubClient.retries = 0
    cfg.Admission = Config({"rate_limit": 0, **(admission or {})})
    defaults: dict[str, object] = dict(
        hub_url=f"http://127.0.0.1:{closed_port()}/", keepalive_interval=0.2,
        systems=[{"name": "local", "flavors": [{"name": "small"}, {"name": "large"}]}],
    )
    defaults.update(kw)
    return LauncherConfig(config=cfg, **defaults)


async def test_versions_repoproviders_metrics_openapi() -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "versions")
        assert r.code == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        data = body_json(r)
        assert data["binderhub"].startswith("nfdi-launcher-")
        assert "repo2docker-version" in data["builder_info"]
        providers = body_json(await get(url + "api/repoproviders"))
        ids = [p["id"] for p in providers]
        assert {"gh", "gl", "git", "gist", "zenodo", "figshare", "dataverse", "hydroshare", "ckan",
                "doi", "hdl", "swhid"} <= set(ids)
        gh = providers[ids.index("gh")]
        assert gh["spec"]["validateRegex"] == "[^/]+/[^/]+/.+"
        assert gh["ref"] == {"enabled": True, "default": "HEAD"}
        metrics = (await get(url + "metrics")).body.decode()
        for name in ("binderhub_build_time_seconds", "binderhub_launch_time_seconds", "binderhub_build_count",
                     "binderhub_launch_count", "binderhub_inprogress_builds", "binderhub_inprogress_launches"):
            assert name in metrics
        # the builder's own counter, every outcome present from the start
        for outcome in ("built", "cached", "followed", "failed"):
            assert f'nfdi_builder_image_requests_total{{outcome="{outcome}"}}' in metrics
        doc = body_json(await get(url + "api/v1/openapi.json"))
        assert doc["openapi"].startswith("3.")
        assert "/api/v1/resolve" in doc["paths"]
        assert "/api/v1/launches" in doc["paths"]
        assert "/build/{provider}/{spec}" in doc["paths"]
        systems = body_json(await get(url + "api/v1/systems"))
        assert systems["systems"][0]["name"] == "local"


async def test_health_reports_a_down_hub_with_503() -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "health")
        assert r.code == 503
        checks = {c["service"]: c for c in body_json(r)["checks"]}
        assert checks["JupyterHub API"]["ok"] is False
        head = await get(url + "health", method="HEAD")
        assert head.code == 503


async def test_health_of_one_launcher_is_not_another_ones() -> None:
    """Two launchers in one process: each reports its own hub, not the other's cached result."""
    down = make_app(make_config())
    no_hub_to_check = make_app(make_config(handoff_class="start-url"))  # the browser goes to the hub
    async with serving(down) as down_url, serving(no_hub_to_check) as other_url:
        assert (await get(down_url + "health")).code == 503
        r = await get(other_url + "health")
        checks = {c["service"]: c for c in body_json(r)["checks"]}
        assert checks["JupyterHub API"]["ok"] is True
        assert checks["Docker registry"]["ok"] is True, checks  # the local engine answers
        assert r.code == 200


async def test_build_requires_event_stream_accept_header() -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "build/gh/a/b/HEAD")
        assert r.code == 200
        assert r.headers["Content-Type"] == "text/event-stream"
        ev = json.loads(r.body.decode().removeprefix("data: "))
        request_id = ev["request_id"]
        assert ev == {"phase": "failed", "status_code": 400, "reason": "bad_request",
                      "request_id": request_id, "next_action": "new_launch", "attempts": 1,
                      "message": f"Accept header must be text/event-stream. Request id: {request_id}.\n"}


@pytest.mark.parametrize(
    ("path", "status", "reason", "needle"),
    [
        ("build/gh/onlyone", 400, "identifier_invalid", "spec is too short; write gh/<owner>/<repo>/<ref>"),
        ("build/no%20such!/x/y", 400, "identifier_invalid", "No provider found"),
        ("build/bitbucket/a/b/HEAD", 400, "identifier_invalid", "No provider found for prefix bitbucket"),
        ("build/git/not-a-url/HEAD", 400, "identifier_invalid", "is not an allowed Git URL"),
        ("build/gh/a/b/HEAD?system=mars", 400, "flavor_unknown", "unknown system 'mars'"),
        ("build/gh/a/b/HEAD?flavor=huge", 400, "flavor_unknown", "unknown flavor 'huge'"),
        ("build/gh/a/b/HEAD?build_token=abc", 403, "access_denied", "Invalid build token"),
        ("build/gh/a/b/HEAD?localstoragepath=../etc", 400, "storage_path", "absolute path"),
    ],
)
async def test_bad_requests_are_failed_events(path: str, status: int, reason: str, needle: str) -> None:
    async with serving(make_app(make_config())) as url:
        code, _h, evs, _c = await read_stream(url + path, timeout=30)
        assert code == 200
        assert evs[-1]["phase"] == "failed", evs
        assert (evs[-1]["status_code"], evs[-1]["reason"]) == (status, reason), evs
        assert needle in evs[-1]["message"]
        assert evs[-1]["message"].endswith(f"Request id: {evs[-1]['request_id']}.\n")
        assert "Traceback" not in json.dumps(evs)


async def test_banned_spec_message_and_xss_is_escaped() -> None:
    config = make_config(admission={"banned_specs": [r"^gh/evil/"]})
    spec = quote('<script>alert(1)</script>', safe="")
    async with serving(make_app(config)) as url:
        r = await get(url + f"build/gh/evil/{spec}/HEAD", headers={"Accept": "text/event-stream"})
        raw = r.body.decode()
        assert "<" not in raw
        assert ">" not in raw
        ev = json.loads(raw.removeprefix("data: "))
        assert ev["status_code"] == 403
        assert ev["reason"] == "launch_not_allowed"
        assert ev["message"] == (f"Sorry, gh/evil/{spec}/HEAD is not allowed to launch. Please contact "
                                 f"admins for more info! Request id: {ev['request_id']}.\n")


def no_resolver(config: LauncherConfig) -> Pipeline:
    """A pipeline that cannot resolve: every admitted request ends in a quick 503."""
    return Pipeline(config, None, None, make_handoff(config))


async def test_rate_limit_429_with_headers_and_a_build_token_free_once() -> None:
    config = make_config(admission={"rate_limit": 1})
    async with serving(make_app(config, pipeline=no_resolver(config))) as url:
        first = await get(url + "build/gh/x/y/HEAD", headers={"Accept": "text/event-stream"})
        assert first.headers["x-ratelimit-remaining"] == "0"
        assert first.headers["x-ratelimit-limit"] == "1"
        assert json.loads(first.body.decode().removeprefix("data: "))["status_code"] == 503
        second = await get(url + "build/gh/x/y/HEAD", headers={"Accept": "text/event-stream"})
        ev = json.loads(second.body.decode().removeprefix("data: "))
        assert ev["status_code"] == 429
        assert ev["message"].startswith("Rate limit exceeded. Try again in ")
        host = urlparse(url).netloc
        other = buildtoken.issue(config.build_token_secret, "gh/x/y/HEAD", host, client="ip:10.9.9.9")
        stolen = await get(url + f"build/gh/x/y/HEAD?build_token={other}", headers={"Accept": "text/event-stream"})
        assert "issued to another client" in json.loads(stolen.body.decode().removeprefix("data: "))["message"]
        mine = buildtoken.issue(config.build_token_secret, "gh/x/y/HEAD", host, client="ip:127.0.0.1")
        codes = []
        for _ in range(2):
            r = await get(url + f"build/gh/x/y/HEAD?build_token={mine}", headers={"Accept": "text/event-stream"})
            codes.append(json.loads(r.body.decode().removeprefix("data: "))["status_code"])
        assert codes == [503, 429]  # free once (its page paid), then counted like any request


async def test_oversized_query_is_414_and_never_a_traceback() -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "launch?id=" + "a" * 10000)
        assert r.code == 414
        assert body_json(r)["status"] == 414
        assert b"Traceback" not in r.body


async def test_legacy_and_r2d_redirects() -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "repo/binder-examples/requirements/lab/tree/index.ipynb")
        assert r.code == 302
        loc = urlparse(r.headers["Location"])
        assert loc.path == "/v2/gh/binder-examples/requirements/master"
        assert parse_qs(loc.query) == {"urlpath": ["lab/tree/index.ipynb"]}
        evil = await get(url + "repo/a/b//evil.example/x")
        assert evil.code == 400
        assert "Location" not in evil.headers
        r2d = await get(url + "r2d/gh/o/r/HEAD?system=local&flavor=small&dataDir=/home/jovyan/data&labpath=a.ipynb")
        assert r2d.code == 302
        loc = urlparse(r2d.headers["Location"])
        assert loc.path == "/v2/gh/o/r/HEAD"
        assert parse_qs(loc.query) == {"system": ["local"], "flavor": ["small"], "labpath": ["a.ipynb"],
                                       "localstoragepath": ["/home/jovyan/data"]}
        enc = await get(url + "r2d/git/https%3A%2F%2Fexample.org%2Fr.git/HEAD")
        assert urlparse(enc.headers["Location"]).path == "/v2/git/https%3A%2F%2Fexample.org%2Fr.git/HEAD"


@pytest.mark.parametrize("hostile", ["//evil.example", "javascript:alert(1)", "https://evil.example/"])
async def test_launch_refuses_hostile_urlpath(hostile: str) -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "launch?id=gh/a/b/HEAD&urlpath=" + quote(hostile, safe=""))
        assert r.code == 400
        assert "Location" not in r.headers
        assert "urlpath" in body_json(r)["message"]


async def test_launch_errors_are_json() -> None:
    async with serving(make_app(make_config())) as url:
        missing = await get(url + "launch")
        assert missing.code == 400
        assert "missing ?id=" in body_json(missing)["message"]
        bad = await get(url + "launch?id=" + quote("not an identifier at all <b>", safe=""))
        assert 400 <= bad.code < 500
        assert b"<b>" not in bad.body
        api = await get(url + "api/v1/resolve?id=" + quote("ext::sh -c evil", safe=""))
        assert api.code in (400, 403)
        assert "message" in body_json(api)


async def test_under_a_service_prefix() -> None:
    config = make_config(base_url="/services/launcher")
    async with serving(make_app(config)) as url:
        assert url.endswith("/services/launcher/")
        assert (await get(url + "versions")).code == 200
        code, _h, evs, _c = await read_stream(url + "build/gh/a/b/HEAD?system=mars", timeout=30)
        assert evs[-1]["status_code"] == 400
        r = await get(url.replace("/services/launcher/", "/") + "versions")
        assert r.code == 404


async def test_anonymous_launch_refused_when_disabled_but_build_only_allowed() -> None:
    config = make_config(anonymous=False, admission={"banned_specs": [r"^gh/banned/"]})
    async with serving(make_app(config)) as url:
        _code, _h, evs, _c = await read_stream(url + "build/gh/a/b/HEAD", timeout=30)
        assert evs[-1]["status_code"] == 403
        assert "Log in to the hub" in evs[-1]["message"]
        _code, _h, evs, _c = await read_stream(url + "build/gh/banned/b/HEAD?build_only=true", timeout=30)
        assert "not allowed to launch" in evs[-1]["message"]  # build-only passed the login check


async def test_json_api_errors() -> None:
    async with serving(make_app(make_config())) as url:
        r = await get(url + "api/v1/launches", method="POST", body="not json")
        assert r.code == 400
        assert "JSON object" in body_json(r)["message"]
        r = await get(url + "api/v1/builds", method="POST", body=json.dumps({}))
        assert r.code == 400
        assert 'missing "id"' in body_json(r)["message"]
        r = await get(url + "api/v1/builds/doesnotexist")
        assert r.code == 404
        r = await get(url + "api/v1/builds", method="POST", body=json.dumps({"id": "x" * 20000}))
        assert r.code == 413
        # the same storage-path rule as the /build stream, checked before anything runs
        r = await get(url + "api/v1/launches", method="POST",
                      body=json.dumps({"id": "gh/a/b/HEAD", "localstoragepath": "../etc"}))
        assert r.code == 400
        assert "absolute path" in body_json(r)["message"]
