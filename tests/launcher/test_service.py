"""The launcher as a JupyterHub-managed service (``nfdi-launcher serve``) behind the proxy.

The hub starts the service with $JUPYTERHUB_SERVICE_URL/_PREFIX/_API_URL/_API_TOKEN; the
launcher serves under ``/services/launcher/``, identifies hub users with HubOAuth
(``Authorization: token`` here, the OAuth cookie in a browser) and launches a named
server of *that* user; a repeated launch of the same target on the same resource
reuses it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from launcher import events
from tests.harness.hub import start_hub, wait_for
from tests.launcher._client import body_json, get, read_stream
from tests.launcher.e2e import HUB_EXTRA_CONFIG, IMAGE_PREFIX

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

PUBLIC = "https://git.example.org/rees-dockerfile"
VENV_BIN = Path(sys.executable).parent


def service_config(workdir: Path, rewrites: dict[str, str]) -> str:
    cfg = workdir / "nfdi_launcher_config.py"
    cfg.write_text("\n".join([
        "c.HubApiHandOff.anonymous_user_pool = 0",
        f"c.BuildManager.image_prefix = {IMAGE_PREFIX!r}",
        f"c.BuildManager.state_dir = {str(workdir / 'builds')!r}",
    ]) + "\n")
    command = [str(VENV_BIN / "nfdi-launcher"), "serve", "--config", str(cfg)]
    env = {"NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)}
    return HUB_EXTRA_CONFIG + "\n" + "\n".join([
        "from jupyterhub.utils import random_port",
        "c.JupyterHub.services[0].update(url=f'http://127.0.0.1:{random_port()}', "
        f"command={command!r}, environment={env!r}, oauth_no_confirm=True)",
        # users may use the launcher (as launcher.hubconfig grants it)
        "c.JupyterHub.load_roles.append({'name': 'user', "
        "'scopes': ['self', 'access:services!service=launcher']})",
    ])


@pytest.fixture
def service_hub(tmp_path: Path, git_server: Any) -> Any:
    rewrites = git_server.rewrite(PUBLIC, "rees-dockerfile")
    hub = start_hub(tmp_path / "hub", config=service_config(tmp_path, rewrites))
    yield hub
    hub.stop()


async def test_launch_as_hub_service_for_the_logged_in_user(service_hub: Any, git_server: Any) -> None:
    hub = service_hub
    base = hub.url + "services/launcher/"
    wait_for(lambda: __import__("requests").get(base + "versions", timeout=2).status_code == 200, 60,
             "the launcher service behind the proxy")
    hub.ensure_user("alice")
    token = hub.api("POST", "/users/alice/tokens", json={"note": "test"}).json()["token"]
    spec = f"{quote(PUBLIC, safe='')}/{git_server.sha('rees-dockerfile', 'refs/tags/v1.1^{}')}"
    auth = {"Authorization": f"token {token}"}
    readies, streams, took = [], [], []
    for _ in range(2):
        started = time.monotonic()
        _code, _h, evs, _c = await read_stream(base + "build/git/" + spec, timeout=400, headers=auth)
        took.append(time.monotonic() - started)
        assert events.validate_stream(evs) == [], evs[-3:]
        readies.append(evs[-1])
        streams.append(evs)
    first, second = readies
    # the reused server's stream ends right after ready (BinderHub lingers 60 s after builds)
    assert took[1] < 15, took
    # the pinned spec is not resolved again, yet the stream still names the target early
    resolved = [e for e in streams[1] if e.get("phase") == "waiting" and e.get("target")]
    assert resolved[0]["target"]["ref"] == spec.rsplit("/", 1)[1]
    assert first["user"] == "alice", first.get("message")
    assert first["url"].startswith(hub.url + "user/alice/"), first.get("message")
    assert second["url"] == first["url"]  # the running server is reused
    assert first["binder_launch_host"] == base
    status = await get(first["url"] + "api/status", headers={"Authorization": f"token {second['token']}"})
    assert status.code == 200
    assert "started" in body_json(status)
    # a token of alice that may not use the launcher: refused, never launched as someone else
    narrow = hub.api("POST", "/users/alice/tokens",
                     json={"note": "narrow", "scopes": ["read:users:name!user=alice"]}).json()["token"]
    refused = await get(base + "api/v1/systems", headers={"Authorization": f"token {narrow}"})
    assert refused.code == 403
    assert "may not use this launcher" in body_json(refused)["message"]
    health = body_json(await get(base + "health"))
    assert {c["service"]: c["ok"] for c in health["checks"]}["JupyterHub API"] is True
