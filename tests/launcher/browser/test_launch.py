"""Launch for real from the browser: form -> build -> JupyterHub -> JupyterLab, and /v2/ links.

Everything runs: the launcher (``make_app``), fdo's resolver against the replay server and
the local git server, builders' repo2docker build pushed to the loopback registry, and the
lead's JupyterHub + configurable-http-proxy + DockerSpawner. Only the outside internet is
replaced (the Zenodo release DOI is constructed, see :mod:`zenodo_release`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from traitlets.config import Config

from launcher.config import LauncherConfig
from tests.harness.hub import start_hub
from tests.launcher.browser import zenodo_release
from tests.launcher.e2e import HUB_EXTRA_CONFIG

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.registry, pytest.mark.hub,
              pytest.mark.slow]

#: without ".git": the resolver canonicalises the URL, and fetch matches rewrites on that form
GIT_URL = "https://git.example.org/nfdi/rees-dockerfile"
#: a build into a fresh registry pushes the 790 MB base layers once (~45 s here); spawns
#: take ~5 s and JupyterLab ~5 s; generous bounds because CI machines are slower
LAUNCH_TIMEOUT_S = 300
LAB_TIMEOUT_MS = 90_000
LAB_SELECTOR = "#jp-main-dock-panel, .jp-LabShell"


@pytest.fixture(scope="module")
def lab_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The lead's hub harness, with URL tokens allowed (as core's launch tests configure it)."""
    h = start_hub(tmp_path_factory.mktemp("browser-hub"), config=HUB_EXTRA_CONFIG)
    yield h
    h.stop()


@pytest.fixture
def rewrites(replay: Any, rewrites_env: dict[str, str], git_server: Any,
             monkeypatch: pytest.MonkeyPatch) -> zenodo_release.Release:
    rel = zenodo_release.install(replay, git_server)
    mapping = {**rewrites_env,
               **git_server.rewrite(zenodo_release.REPO_URL, "rees-dockerfile"),
               **git_server.rewrite(GIT_URL, "rees-dockerfile")}
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", json.dumps(mapping))
    return rel


@pytest.fixture
def launcher_url(launcher_factory: Any, lab_hub: Any, registry: Any, rewrites: Any,
                 tmp_path: Any) -> str:
    cfg = Config()
    cfg.BuildManager.registry_url = registry.url
    cfg.BuildManager.state_dir = str(tmp_path / "builds")
    cfg.HubClient.api_url = lab_hub.api_url + "/"
    cfg.HubClient.api_token = lab_hub.token
    cfg.HubApiHandOff.launch_timeout = 180
    cfg.Admission.rate_limit = 0
    config = LauncherConfig(
        config=cfg, base_url="/", hub_url=lab_hub.url, handoff_class="hub-api", anonymous=True,
        systems=[{"name": "local", "display_name": "This machine",
                  "flavors": [{"name": "default", "display_name": "Default"}]}],
    )
    return str(launcher_factory(config).url)


_PROBE = """() => {
  const s = document.getElementById('launch-status');
  const active = document.querySelector('li.phase.active');
  return {failed: s && s.className.includes('error') ? s.textContent : null,
          phase: active ? active.getAttribute('data-phase') : null};
}"""


def _wait_for_hub(page: Any, shot: Any, hub: Any, timeout_s: float) -> None:
    """Poll until the page is in the hub, failing fast when the launch reports failure.

    Takes one screenshot per phase seen on the way (building, launching, ...).
    """
    hub_prefix = hub.url.rstrip("/") + "/user/"
    deadline = time.monotonic() + timeout_s
    shots: set[str] = set()
    while time.monotonic() < deadline:
        if page.url.startswith(hub_prefix):
            return
        try:
            probe = page.evaluate(_PROBE)
        except Exception:  # navigating: the old document is gone
            probe = {"failed": None, "phase": None}
        failed = probe["failed"]
        if probe["phase"] and probe["phase"] not in shots:
            shots.add(probe["phase"])
            shot(page, probe["phase"])
        if failed:
            raise AssertionError(f"launch failed: {failed}")
        page.wait_for_timeout(500)
    try:
        log = page.inner_text("#log", timeout=2000)[-3000:]
    except Exception:
        log = "(no launcher log on this page)"
    raise AssertionError(f"no redirect to the hub within {timeout_s:.0f} s; at {page.url}; log:\n"
                         + log + "\nhub log:\n" + hub.log_tail())


def _follow_to_lab(page: Any, shot: Any, hub: Any, expect_path: str, expect: tuple[str, str]) -> None:
    """Wait for the redirect into the hub, then for JupyterLab showing the repository's file."""
    try:
        _wait_for_hub(page, shot, hub, LAUNCH_TIMEOUT_S)
    except AssertionError:
        shot(page, "no-redirect")
        raise
    page.wait_for_load_state("domcontentloaded")
    url = urlsplit(page.url)
    assert url.path.endswith(expect_path), page.url
    try:
        page.wait_for_selector(LAB_SELECTOR, timeout=LAB_TIMEOUT_MS)
        page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LAB_TIMEOUT_MS)
        # content that exists only in the built image: the repository's file, opened
        page.locator(expect[0], has_text=expect[1]).first.wait_for(timeout=LAB_TIMEOUT_MS)
    except Exception:
        shot(page, "lab-timeout")
        raise
    shot(page, "jupyterlab")
    assert page.locator(".jp-LabShell").count() == 1


def test_form_doi_to_jupyterlab(page: Any, shot: Any, lab_hub: Any, launcher_url: str,
                                rewrites: zenodo_release.Release) -> None:
    page.goto(launcher_url)
    page.fill("#identifier", rewrites.doi)
    page.click("#resolve-btn")
    page.wait_for_selector("#target:not([hidden])")
    assert page.inner_text("#provenance dd[data-key='git_commit']") == rewrites.commit
    shot(page, "resolved")
    page.fill("#path", "index.ipynb")
    page.click("#launch-btn")
    # the form opens the /v2/ link its share box shows, which follows the launch
    page.wait_for_url("**/v2/**")
    _follow_to_lab(page, shot, lab_hub, "/doc/tree/index.ipynb",
                   (".jp-NotebookPanel .jp-RenderedMarkdown h1", "rees-dockerfile v1.0"))
    assert page.dialogs == []


def test_binderhub_style_v2_git_link(page: Any, shot: Any, lab_hub: Any, launcher_url: str,
                                     git_server: Any) -> None:
    # v1.0: the same tree the DOI test's Zenodo zip holds, so its image is found again
    # (one image per content) and the spawner must pull it under the content alias
    commit = git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    link = f"{launcher_url}v2/git/{quote(GIT_URL, safe='')}/v1.0?urlpath={quote('/lab/tree/README.md', safe='')}"
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url) if "/build/" in req.url else None)
    page.goto(link)
    # the page starts the EventSource at once, with BinderHub's build token
    page.wait_for_selector("li.phase.active, li.phase.done", timeout=30_000)
    shot(page, "v2-started")
    assert seen
    assert "build_token=" in seen[0]
    assert "/build/git/" in seen[0]
    page.wait_for_selector("#target:not([hidden])", timeout=60_000)
    assert commit in page.inner_text("#target")
    _follow_to_lab(page, shot, lab_hub, "/lab/tree/README.md",
                   (".jp-FileEditor .cm-line", "rees-dockerfile scenario, version 1.0"))
    listing = page.locator(".jp-DirListing-content")
    for name in ("README.md", "index.ipynb"):
        listing.get_by_text(name, exact=True).wait_for(timeout=LAB_TIMEOUT_MS)
