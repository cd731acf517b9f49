"""Issue 18: the loading page shows a failed launch prominently — the message for the
person (with its request id) and one button for the next step — and keeps the build log.

Real parts: the resolver's network policy (a refused Git URL), the builder pointed at a
Docker socket where nothing listens (the engine is gone); the launcher serves the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from traitlets.config import Config

from launcher.config import LauncherConfig
from tests.launcher.e2e import no_rate_limit
from tests.launcher.failures.checks import assert_person_message

pytestmark = pytest.mark.browser


def failure_on_page(page: Any) -> dict[str, str]:
    page.wait_for_selector("#failure:not([hidden])", timeout=60_000)
    button = page.locator("#next-action")
    return {"message": page.inner_text("#failure-message"), "button": button.inner_text(),
            "href": button.get_attribute("href") or "", "reason":
            page.get_attribute("#failure", "data-reason") or "", "log": page.inner_text("#log")}


def test_a_refused_link_says_why_and_offers_another_launch(page: Any, shot: Any,
                                                           launcher_factory: Any) -> None:
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/", anonymous=True))
    spec = quote("https://127.0.0.1:1/private.git", safe="") + "/HEAD"
    page.goto(server.url + "v2/git/" + spec)
    shown = failure_on_page(page)
    shot(page, "failed")
    assert shown["reason"] == "resolve_refused"
    assert shown["message"].startswith("The launcher may not fetch from this address")
    assert "Request id: " in shown["message"]
    assert_person_message(shown["message"])
    assert shown["button"] == "Launch something else"
    assert "may not fetch from this address" in shown["log"]  # the log keeps it too
    page.click("#next-action")
    page.wait_for_url(server.url + "?id=*")
    assert page.input_value("#identifier") == "git/" + spec  # the form, ready for another try
    assert page.errors == []


def test_the_engine_gone_offers_to_try_again(page: Any, shot: Any, launcher_factory: Any,
                                             git_server: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    public = "https://git.example.org/fail/rees-dockerfile"
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES",
                       json.dumps(git_server.rewrite(public, "rees-dockerfile")))
    cfg = no_rate_limit()
    cfg.merge(Config({"DockerExecutor": {"docker_host": f"unix://{tmp_path / 'nothing.sock'}"},
                      "BuildManager": {"state_dir": str(tmp_path / "builds")}}))
    server = launcher_factory(LauncherConfig(config=cfg, base_url="/", anonymous=True))
    url = server.url + "v2/git/" + quote(public, safe="") + "/HEAD"
    page.goto(url)
    shown = failure_on_page(page)
    shot(page, "failed")
    assert shown["reason"] == "engine_unavailable"
    assert shown["message"].startswith("The build service is not available right now.")
    assert_person_message(shown["message"])
    assert (shown["button"], shown["href"]) == ("Try again", url)
    assert "Fetching" in shown["log"]
    assert page.is_visible("li.phase.failed")
