"""Credentials in every position of a request never reach the logs, even at DEBUG: URL
userinfo, query, fragment (inside a pasted identifier), the Authorization header; plain,
percent-encoded and double-encoded. The launcher runs as ``nfdi-launcher serve --debug``
and its whole log is searched afterwards."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from urllib.parse import quote

import requests

from tests.harness.canary import Canary
from tests.outpost.outpost_proc import OutpostProc
from tests.security.conftest import LauncherProc, to_canary


def test_no_credential_reaches_the_launcher_log(launcher_factory: Callable[..., LauncherProc],
                                                module_canary: Canary) -> None:
    launcher = launcher_factory("c.Admission.rate_limit = 0", env=to_canary(module_canary))
    tokens = {name: "ghp_" + secrets.token_hex(18) for name in
              ("userinfo", "query", "fragment", "header", "double", "spec", "form", "bearer")}
    pasted = {
        "userinfo": f"https://user:{tokens['userinfo']}@github.com/o/r",
        "query": f"https://github.com/o/r?access_token={tokens['query']}",
        "fragment": f"https://github.com/o/r#token={tokens['fragment']}",
    }
    for identifier in pasted.values():
        launcher.get("launch?id=" + quote(identifier, safe=""))  # as the home form sends it
        launcher.get("api/v1/resolve", params={"id": identifier})
        requests.post(launcher.url + "api/v1/builds", json={"id": identifier}, timeout=30)
        launcher.stream("build/git/" + quote(quote(identifier, safe=""), safe="") + "/HEAD")
    launcher.get("launch?id=" + quote(quote(pasted["userinfo"].replace(tokens["userinfo"], tokens["double"]),
                                            safe=""), safe=""))
    launcher.stream("build/git/" + quote(f"https://x:{tokens['spec']}@github.com/o/r", safe="") + "/HEAD")
    launcher.get("launch?id=https://github.com/o/r&token=" + tokens["form"])
    for header in (f"token {tokens['header']}", f"Bearer {tokens['bearer']}"):
        launcher.get("api/v1/resolve?id=https://github.com/o/r", headers={"Authorization": header})
        launcher.stream("build/gh/o/r/HEAD", headers={"Authorization": header})
    time.sleep(0.5)
    log = launcher.log()
    assert "GET " in log  # DEBUG access lines are there ...
    assert "DEBUG" in log or "[D " in log
    for name, token in tokens.items():
        assert token[4:] not in log, f"the {name} credential is in the log"


def test_no_hub_password_reaches_the_outpost_log(outpost_factory: Callable[..., OutpostProc]) -> None:
    outpost = outpost_factory()
    wrong = "pw-" + secrets.token_hex(12)
    outpost.request("GET", "/flavors/", hub=None, auth=("hub-a", wrong))
    outpost.request("GET", "/flavors/?token=" + wrong, hub="hub-a")
    outpost.request("POST", "/services", json={"name": "x", "env": {
        "JUPYTERHUB_USER": "a", "JUPYTERHUB_API_TOKEN": wrong}, "user_options": {"start_id": "!"}})
    time.sleep(0.3)
    log = outpost.log_tail(2000)
    assert "GET /flavors/" in log
    assert wrong not in log
    assert outpost.credentials["hub-a"] not in log
