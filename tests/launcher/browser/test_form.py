"""The home form in headless Chromium against the real resolve API (replayed DOI, local git).

Paste a (constructed, see :mod:`zenodo_release`) Zenodo GitHub-release DOI, see its
provenance (DOI -> Zenodo record -> Git tag -> commit), pick system and flavor, and copy the
link and badge snippets: the clipboard holds exactly what :mod:`launcher.snippets` makes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from launcher import snippets
from launcher.config import LauncherConfig
from tests.launcher.browser import zenodo_release
from tests.launcher.e2e import no_rate_limit

pytestmark = pytest.mark.browser

SYSTEMS = [
    {"name": "local", "display_name": "This machine", "flavors": [{"name": "default"}]},
    {"name": "JSC-Cloud", "display_name": "JSC Cloud",
     "flavors": [{"name": "m1", "display_name": "1 CPU"}, {"name": "m4", "display_name": "4 CPUs"}]},
]


@pytest.fixture
def release(replay: Any, rewrites_env: dict[str, str], git_server: Any,
            monkeypatch: pytest.MonkeyPatch) -> zenodo_release.Release:
    rel = zenodo_release.install(replay, git_server)
    rewrites = {**rewrites_env, **git_server.rewrite(zenodo_release.REPO_URL, "rees-dockerfile")}
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(rewrites))
    return rel


def test_paste_doi_see_provenance_copy_snippets(
    page: Any, shot: Any, launcher_factory: Any, release: zenodo_release.Release
) -> None:
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/", systems=SYSTEMS))
    page.goto(server.url)
    shot(page, "home")
    page.fill("#identifier", "https://doi.org/" + release.doi)
    page.click("#resolve-btn")
    page.wait_for_selector("#target:not([hidden])")
    shot(page, "resolved")

    assert page.inner_text("#target-title") == release.title
    assert page.inner_text("#t-ref") == f"{release.recid}@v1.0"
    hops = page.locator("#chain li.hop")
    assert hops.count() >= 1
    assert release.doi in hops.nth(0).inner_text()
    assert page.inner_text("#provenance dd[data-key='git_tag']") == "v1.0"
    assert page.inner_text("#provenance dd[data-key='git_commit']") == release.commit
    assert page.is_visible("#launch-btn")
    assert page.is_enabled("#launch-btn")

    # only the configured systems; flavors follow the system
    systems = page.eval_on_selector_all("#system option", "os => os.map(o => o.value)")
    assert systems == ["local", "JSC-Cloud"]
    page.select_option("#system", "JSC-Cloud")
    assert page.eval_on_selector_all("#flavor option", "os => os.map(o => o.value)") == ["m1", "m4"]
    page.select_option("#flavor", "m4")
    page.fill("#path", "index.ipynb")
    page.dispatch_event("#path", "change")

    launch_path = page.evaluate(
        "fetch('api/v1/resolve?id=' + encodeURIComponent(document.getElementById('identifier').value))"
        ".then(r => r.json()).then(t => t.launch_path)"
    )
    expected = snippets.snippets(
        server.url, launch_path,
        snippets.LaunchOptions(labpath="index.ipynb", system="JSC-Cloud", flavor="m4"),
    )
    page.wait_for_function(
        "url => document.getElementById('share-url').value === url", arg=expected.url
    )
    shot(page, "share")
    for key, text in [("share-url", expected.url), ("snippet-markdown", expected.markdown),
                      ("snippet-rst", expected.rst), ("snippet-html", expected.html)]:
        page.click(f"button[data-copy='{key}']")
        page.wait_for_function(
            "key => document.querySelector(`button[data-copy='${key}']`).textContent === 'Copied'",
            arg=key,
        )
        assert page.evaluate("navigator.clipboard.readText()") == text, key
    assert expected.markdown.startswith(f"[![Binder]({server.url}badge_logo.svg)]({server.url}v2/")
    # the badge preview really loads our SVG
    assert page.evaluate("document.getElementById('badge-preview').naturalWidth") > 60
    assert page.dialogs == []
    assert page.errors == []


def test_v2_link_with_unknown_system_fails_clearly(page: Any, shot: Any, launcher_factory: Any) -> None:
    """A Jupyter4NFDI-style link naming a system the user may not use: a clear failure, no build."""
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/", systems=SYSTEMS))
    page.goto(server.url + "v2/gh/o/r/HEAD?system=not-a-system&flavor=m1")
    page.wait_for_selector("li.phase.failed")
    shot(page, "unknown-system")
    failure = page.inner_text("#failure-message")  # shown prominently (issue 18)
    assert "unknown system 'not-a-system'" in failure, failure
    assert page.inner_text("#next-action") == "Choose another flavor"
    assert page.inner_text("#spec") == "gh/o/r/HEAD"
    assert page.inner_text("#system") == "not-a-system"


def test_ambiguous_ref_offers_choices_before_launch(
    page: Any, shot: Any, launcher_factory: Any, git_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Branch and tag both named v2 (scenario ``ambiguous-ref``): pick one, then it is pinned."""
    public = "https://git.example.org/nfdi/ambiguous-ref"
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES",
                       json.dumps(git_server.rewrite(public, "ambiguous-ref")))
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/", systems=SYSTEMS))
    page.goto(server.url)
    page.fill("#identifier", "git/" + quote(public, safe="") + "/v2")
    page.click("#resolve-btn")
    page.wait_for_selector("#choices:not([hidden])")
    shot(page, "choices")
    assert page.is_hidden("#options")
    assert page.is_hidden("#share")
    assert page.is_disabled("#launch-btn")
    buttons = page.locator("#choice-list button.choice")
    assert buttons.count() == 2, page.inner_text("#choice-list")
    tag_commit = git_server.sha("ambiguous-ref", "refs/tags/v2^{}")
    branch_commit = git_server.sha("ambiguous-ref", "refs/heads/v2")
    listed = page.inner_text("#choice-list")
    assert "tag" in listed.lower(), listed
    assert "branch" in listed.lower(), listed
    # pick the tag: its identifier goes into the box and is resolved to the tag's commit
    tag_button = buttons.filter(has_text="tag").first
    tag_button.click()
    page.wait_for_selector("#options:not([hidden])")
    page.wait_for_function("document.getElementById('t-ref').textContent.length === 40")
    shot(page, "picked")
    assert page.inner_text("#t-ref") == tag_commit != branch_commit
    assert page.is_enabled("#launch-btn")
    assert page.is_hidden("#choices")
    assert page.errors == [], page.errors


def test_refused_target_is_a_clear_error_instead_of_a_card(
    page: Any, shot: Any, launcher_factory: Any, replay: Any, canary: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record (constructed, tests/fdo/net/carried.py) whose file points at loopback."""
    from tests.fdo.net import carried

    case = carried.BY_ID["zenodo-mixed-loopback"]
    identifier, rewrites = carried.install(case, replay, canary.port)
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(rewrites))
    server = launcher_factory(LauncherConfig(config=no_rate_limit(), base_url="/", systems=SYSTEMS))
    page.goto(server.url)
    page.fill("#identifier", identifier)
    page.click("#resolve-btn")
    page.wait_for_selector("#resolve-status.error")
    shot(page, "refused")
    assert page.inner_text("#resolve-status") == "Could not resolve."
    # why, in words, prominently; the record's address is in the log under the request id
    failure = page.inner_text("#failure-message")
    assert failure.startswith("The launcher may not fetch from this address: it is local, "
                              "private or not a safe link."), failure
    assert "Request id: " in failure
    assert "127.0.0.1" not in failure
    assert page.inner_text("#next-action") == "Launch something else"
    page.click("#next-action")  # back to the form, to paste something else
    assert page.url.endswith("#identifier")
    assert page.is_hidden("#target")
    assert page.is_hidden("#share")
    assert canary.requests == []
