"""The hub is down when the launcher hands an image over to it, and comes back.

The image is built; then JupyterHub (with its proxy) stops. A launch ends in one
``failed`` event naming the unreachable hub, holds no quota afterwards and leaves no
server behind; once the hub runs again (same config and database) the same launch is
ready and its server answers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.harness.hub import VENV_BIN, Hub, start_hub, wait_for
from tests.harness.launcher import start_launcher
from tests.launcher.e2e import HUB_EXTRA_CONFIG, IMAGE_PREFIX

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

PUBLIC = "https://git.example.org/rees-dockerfile"


def restart_hub(hub: Hub) -> None:
    """Start the stopped hub again on its own config file, ports, token and database."""
    with hub.log_path.open("ab") as log:
        hub.process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(hub.workdir / "jupyterhub_config.py")],
            cwd=hub.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
                 "CONFIGPROXY_AUTH_TOKEN": "restarted-" + hub.hub_id})
    wait_for(lambda: hub.api("GET", "/", timeout=2).status_code == 200, 60, "the hub to answer again")


def stream(url: str) -> list[dict[str, Any]]:
    r = requests.get(url, headers={"Accept": "text/event-stream"}, timeout=400)
    return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]


def test_hub_down_at_hand_off(tmp_path: Path, git_server: Any) -> None:
    hub = start_hub(tmp_path / "hub", config=HUB_EXTRA_CONFIG)
    rewrites = git_server.rewrite(PUBLIC, "rees-dockerfile")
    launcher = start_launcher(tmp_path / "launcher", [
        "c.Admission.rate_limit = 0", "c.Admission.per_user_quota = 1",
        f"c.LauncherConfig.hub_url = {hub.url!r}",
        f"c.HubClient.api_url = {hub.api_url!r}", f"c.HubClient.api_token = {hub.token!r}",
        "c.HubClient.retries = 0", "c.HubClient.request_timeout = 5.0",
        "c.HubApiHandOff.anonymous_user_pool = 0", "c.HubApiHandOff.launch_timeout = 120.0",
        f"c.BuildManager.image_prefix = {IMAGE_PREFIX!r}",
    ], env={"NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)})
    spec = f"{quote(PUBLIC, safe='')}/{git_server.sha('rees-dockerfile', 'refs/tags/v1.1^{}')}"
    try:
        built = stream(launcher.url + f"build/git/{spec}?build_only=true")
        assert built[-1]["phase"] == "ready", built[-3:]
        hub.stop()

        down = stream(launcher.url + f"build/git/{spec}")
        failed = [ev for ev in down if ev.get("phase") == "failed"]
        assert len(failed) == 1
        assert failed[0] is down[-1]
        assert failed[0]["message"].startswith("JupyterHub is not available right now."), failed[0]
        assert hub.api_url not in failed[0]["message"]  # where it is: in the log (issue 18)
        assert (failed[0]["reason"], failed[0]["status_code"]) == ("hub_unavailable", 503)
        assert failed[0]["attempts"] == 1
        assert "Traceback" not in json.dumps(down)

        restart_hub(hub)
        users = hub.api("GET", "/users").json()
        assert not [(u["name"], s) for u in users for s, srv in u.get("servers", {}).items()
                    if srv.get("pending")]  # nothing half-started is left in the hub
        ready = stream(launcher.url + f"build/git/{spec}")  # per_user_quota=1: none leaked
        assert ready[-1]["phase"] == "ready", ready[-3:]
        status = requests.get(ready[-1]["url"] + "api/status", timeout=30,
                              headers={"Authorization": f"token {ready[-1]['token']}"})
        assert status.status_code == 200
    finally:
        launcher.stop()
        hub.stop()
