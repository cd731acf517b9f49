"""Login as a JupyterHub service: which routes send a browser through the hub, which answer 403.

The launcher is configured as a hub service would be ($JUPYTERHUB_* environment), with a hub
that is never reached: none of these requests carries credentials, so nothing asks the hub
who the user is. The whole round trip through a real hub's login page is the journey suite's
(tests/launcher/journey/).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from launcher.app import make_app
from launcher.config import LauncherConfig
from launcher.handlers.login import safe_next
from launcher.handoff.servers import launch_entry, running_same_target, server_state
from tests.launcher._client import body_json, get, read_stream, serving
from tests.launcher.e2e import no_rate_limit
from tests.launcher.test_app import closed_port

PREFIX = "/services/launcher/"


@pytest.fixture
def hub_service_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    hub = f"http://127.0.0.1:{closed_port()}"
    for key, value in {
        "JUPYTERHUB_API_TOKEN": "service-token-not-used",
        "JUPYTERHUB_API_URL": hub + "/hub/api",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_CLIENT_ID": "service-launcher",
        "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
        "JUPYTERHUB_OAUTH_CALLBACK_URL": PREFIX + "oauth_callback",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps(["access:services!service=launcher"]),
    }.items():
        monkeypatch.setenv(key, value)
    yield


def service_app(anonymous: bool) -> object:
    config = LauncherConfig(config=no_rate_limit(), anonymous=anonymous,
                            hub_url="http://127.0.0.1:9/")
    assert config.auth_enabled
    return make_app(config)


BROWSER_ROUTES = [
    "?id=10.5281%2Fzenodo.1",  # the form: what it offers is the user's
    "v2/gh/o/r/HEAD?labpath=index.ipynb&system=local&flavor=default",
    "launch?id=10.5281%2Fzenodo.1&urlpath=lab",
    "r2d/gh/o/r/HEAD?dataDir=%2Fhome%2Fjovyan%2Fwork",
    "repo/o/r/notebooks",
]


@pytest.mark.parametrize("route", BROWSER_ROUTES)
async def test_a_browser_goes_through_the_hub_and_comes_back_to_the_same_url(
        hub_service_env: None, route: str) -> None:
    app = service_app(anonymous=False)
    async with serving(app) as url:  # type: ignore[arg-type]
        r = await get(url + route)
    assert r.code == 302
    location = urlsplit(r.headers["Location"])
    assert location.path == "/hub/api/oauth2/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == ["service-launcher"]
    assert query["redirect_uri"] == [PREFIX + "oauth_callback"]
    assert query["code_challenge_method"] == ["S256"]  # PKCE, kept by the one HubOAuth
    assert "service-launcher-oauth-state" in r.headers["Set-Cookie"]
    hub_auth = app.settings["state"].hub_auth  # type: ignore[attr-defined]
    assert hub_auth.get_next_url(query["state"][0]) == PREFIX + route  # query and all
    assert hub_auth.get_code_verifier(query["state"][0])


async def test_api_and_stream_clients_get_403_never_a_redirect(hub_service_env: None) -> None:
    async with serving(service_app(anonymous=False)) as url:  # type: ignore[arg-type]
        for path, headers in (("launch?id=gh/o/r/HEAD&format=json", {}),
                              ("launch?id=gh/o/r/HEAD", {"Accept": "application/json"}),
                              ("api/v1/servers", {}),
                              ("api/v1/servers/some-server", {})):
            r = await get(url + path, headers=headers)
            assert r.code == 403, path
            assert "Location" not in r.headers
            assert "Authentication required" in body_json(r)["message"]
        r = await get(url + "api/v1/servers/some-server", method="DELETE")
        assert r.code == 403
        code, _headers, evs, _c = await read_stream(url + "build/gh/o/r/HEAD", timeout=10)
    assert code == 200
    assert evs[-1]["phase"] == "failed"
    assert evs[-1]["status_code"] == 403


async def test_pages_show_the_login_link_and_anonymous_mode_needs_no_login(
        hub_service_env: None) -> None:
    async with serving(service_app(anonymous=True)) as url:  # type: ignore[arg-type]
        page = await get(url + "v2/gh/o/r/HEAD?labpath=a.ipynb")
        home = await get(url)
    assert page.code == 200  # no redirect: visitors launch as temporary users
    html = home.body.decode()
    assert f'href="{PREFIX}login?next=' in html
    assert "Log in" in html
    assert 'id="my-launches"' not in html  # nobody logged in: nothing to list
    config = page.body.decode().split('data-config="', 1)[1].split('"', 1)[0]
    # the stream URL carries the XSRF token (an EventSource cannot send headers)
    assert "_xsrf=" in config


async def test_login_returns_only_to_paths_of_this_launcher(hub_service_env: None) -> None:
    app = service_app(anonymous=False)
    async with serving(app) as url:  # type: ignore[arg-type]
        r = await get(url + "login?next=" + PREFIX + "v2/gh/o/r/HEAD")
    assert r.code == 302
    state = parse_qs(urlsplit(r.headers["Location"]).query)["state"][0]
    # after the hub's login the browser comes back to /login, which forwards to next ...
    assert app.settings["state"].hub_auth.get_next_url(state).startswith(  # type: ignore[attr-defined]
        PREFIX + "login?next=")
    # ... but only to this launcher's own paths
    for target, expected in ((PREFIX + "v2/gh/o/r/HEAD", PREFIX + "v2/gh/o/r/HEAD"),
                             ("//evil.example/x", PREFIX), ("https://evil.example/", PREFIX),
                             ("/hub/admin", PREFIX), (PREFIX + "\\\\evil", PREFIX),
                             (PREFIX + "x\r\nSet-Cookie: a=b", PREFIX), ("", PREFIX)):
        assert safe_next(target, PREFIX) == expected, target


def test_launch_entry_is_what_my_launches_shows() -> None:
    model = {
        "name": "rees-dockerfile-0123456789", "ready": True, "pending": None,
        "started": "2026-01-01T10:00:00.000000Z", "last_activity": "2026-01-01T10:05:00Z",
        "url": "/user/carol/rees-dockerfile-0123456789/",
        "user_options": {"system": "local-small", "flavor": "small", "repo2docker": {
            "repourl": "https://git.example.org/r", "reporef": "a" * 40,
            "identifier": "https://git.example.org/r", "launch_path": "v2/git/x/" + "a" * 40,
            "image": "reg/img:tag"}},
    }
    now = 1767261600.0 + 90  # 2026-01-01T10:01:30Z
    entry = launch_entry(model, "http://hub.example/", "http://hub.example/services/launcher/",
                         now=now)
    assert entry is not None
    assert entry["state"] == "running"
    assert entry["age_seconds"] == 90
    assert entry["url"] == "http://hub.example/user/carol/rees-dockerfile-0123456789/"
    assert entry["relaunch_url"] == ("http://hub.example/services/launcher/v2/git/x/" + "a" * 40
                                     + "?system=local-small&flavor=small")
    assert (entry["system"], entry["flavor"], entry["ref"]) == ("local-small", "small", "a" * 40)
    stopped = launch_entry(dict(model, ready=False), "http://hub.example/", "/")
    assert stopped is not None
    assert stopped["url"] == ""  # a stopped server is launched again, not opened
    # servers the launcher did not start are not "launches"
    assert launch_entry(dict(model, user_options={"profile": "x"}), "http://h/", "/") is None
    assert [server_state(m) for m in ({"pending": "spawn"}, {"pending": "stop"}, {"ready": True},
                                      {})] == ["starting", "stopping", "running", "stopped"]


def test_a_running_server_of_the_same_pinned_target_is_found_on_any_resource() -> None:
    from fdo.target import LaunchTarget

    target = LaunchTarget.from_json({
        "identifier": "https://git.example.org/r", "kind": "git", "provider": "git",
        "source": "https://git.example.org/r", "ref": "a" * 40, "files": [], "chain": [],
        "launch_path": "v2/git/x/" + "a" * 40, "title": "", "warnings": [], "choices": []})

    def model(name: str, ready: bool, ref: str) -> dict[str, object]:
        return {"name": name, "ready": ready, "user_options": {"system": "local-large",
                "repo2docker": {"repourl": target.source, "reporef": ref}}}

    found = running_same_target([model("old", True, "b" * 40), model("stopped", False, "a" * 40),
                                 model("large", True, "a" * 40)], target)
    assert found is not None
    assert found["name"] == "large"
    assert running_same_target([model("old", True, "b" * 40)], target) is None
