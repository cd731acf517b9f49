"""The Outpost goes down and comes back, behind a real hub with the real OutpostSpawner.

A launch through the launcher is ready; its server is stopped; the Outpost process stops.
The next launch ends in ONE ``failed`` event saying the hub could not start the server
and which Outpost request failed, and no server is left pending in the hub. The
Outpost starts again (same database, port, credentials) and the same launch is ready.

(Not through ``nfdi-launcher stack``: the stack stops everything when one of its
components dies, by design; it restarts its Outpost only on ``kill -USR1``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.harness.hub import start_hub
from tests.harness.launcher import LauncherProc, start_launcher
from tests.launcher.e2e import IMAGE_PREFIX
from tests.outpost.conftest import outpost_factory  # noqa: F401 -- a fixture for this test
from tests.outpost.outpost_proc import OutpostProc, hub_snippet

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

PUBLIC = "https://git.example.org/rees-dockerfile"


def launch(launcher: LauncherProc, spec: str) -> list[dict[str, Any]]:
    r = requests.get(launcher.url + f"build/git/{spec}?system=sys-a&flavor=small",
                     headers={"Accept": "text/event-stream"}, timeout=400)
    found = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    assert found, (r.status_code, r.text[:300])
    return found


def test_outpost_down_and_back(tmp_path: Path, git_server: Any,
                               outpost_factory: Callable[..., OutpostProc]) -> None:  # noqa: F811
    outpost = outpost_factory()
    hub = start_hub(tmp_path / "hub", spawner="outpost", config=hub_snippet(outpost, "hub-a"))
    launcher = start_launcher(tmp_path / "launcher", [
        "c.Admission.rate_limit = 0",
        f"c.LauncherConfig.hub_url = {hub.url!r}",
        f"c.HubClient.api_url = {hub.api_url!r}", f"c.HubClient.api_token = {hub.token!r}",
        "c.HubApiHandOff.anonymous_user_pool = 0", "c.HubApiHandOff.launch_timeout = 120.0",
        "c.LauncherConfig.systems = [{'name': 'sys-a', 'flavors': [{'name': 'small'}]}]",
        f"c.BuildManager.image_prefix = {IMAGE_PREFIX!r}",
    ], env={"NFDI_LAUNCHER_URL_REWRITES": json.dumps(git_server.rewrite(PUBLIC, "rees-dockerfile"))})
    spec = f"{quote(PUBLIC, safe='')}/{git_server.sha('rees-dockerfile', 'refs/tags/v1.1^{}')}"
    try:
        first = launch(launcher, spec)
        assert first[-1]["phase"] == "ready", first[-3:]
        user, server = first[-1]["user"], first[-1]["server_name"]
        hub.stop_server(user, server)

        outpost.stop()
        down = launch(launcher, spec)
        failed = [ev for ev in down if ev.get("phase") == "failed"]
        assert len(failed) == 1, down[-3:]
        assert failed[0] is down[-1]
        assert failed[0]["message"].startswith("The computing system is not available"), failed[0]
        assert outpost.url not in json.dumps(failed[0])  # where it is: in the log (issue 18)
        assert (failed[0]["reason"], failed[0]["status_code"]) == ("outpost_unavailable", 503)
        assert "Traceback" not in json.dumps(down)
        servers = {name: s for u in hub.api("GET", "/users").json()
                   for name, s in (u.get("servers") or {}).items()}
        assert not [name for name, s in servers.items() if s.get("pending") or s.get("ready")]

        outpost.start()
        again = launch(launcher, spec)
        assert again[-1]["phase"] == "ready", again[-3:]
        status = requests.get(again[-1]["url"] + "api/status", timeout=30,
                              headers={"Authorization": f"token {again[-1]['token']}"})
        assert status.status_code == 200
        hub.stop_server(again[-1]["user"], again[-1]["server_name"])
        assert outpost.containers() == []
    finally:
        launcher.stop()
        hub.stop()
