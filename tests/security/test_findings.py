"""Issue 10: the seven findings of the outside security test, each replayed as it was sent,
against the real services (``nfdi-launcher serve`` / ``nfdi-launcher outpost`` processes).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.harness.canary import Canary
from tests.harness.hub import VENV_BIN
from tests.outpost.outpost_proc import OutpostProc
from tests.security.conftest import LauncherProc, raw_request, to_canary, wait_rss_settled


def failed(events: list[dict[str, object]]) -> dict[str, object]:
    assert events, "no event"
    assert events[-1]["phase"] == "failed", events
    return events[-1]


# -- 1. banned_specs bypassed by percent-encoding -------------------------------------------
@pytest.mark.parametrize("path", [
    "build/doi/10.5281%2Fzenodo.666",
    "build/git/https%3A%2F%2Fgithub.com%2Fevil-org%2Fx/HEAD",
])
def test_1_encoded_banned_specs_are_refused_before_any_lookup(guarded: LauncherProc,
                                                              module_canary: Canary, path: str) -> None:
    before = len(module_canary.requests)
    ev = failed(guarded.stream(path))
    assert ev["status_code"] == 403
    assert "is not allowed to launch" in str(ev["message"])
    assert module_canary.requests[before:] == []  # nothing was resolved


def test_1_every_entry_applies_the_same_bans(guarded: LauncherProc, module_canary: Canary) -> None:
    before = len(module_canary.requests)
    api = requests.post(guarded.url + "api/v1/builds", json={"id": "https://github.com/evil-org/x"},
                        timeout=30)
    assert api.status_code == 403
    assert "not allowed" in api.json()["message"]
    for path in ("launch?id=10.5281/zenodo.666", "api/v1/resolve?id=doi:10.5281/zenodo.666",
                 "r2d/gh/evil-org/x/HEAD", "repo/evil-org/x", "v2/doi/10.5281%2Fzenodo.666"):
        r = guarded.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "not allowed to launch" in r.text, path
    assert module_canary.requests[before:] == []


# -- 2. empty Outpost passwords --------------------------------------------------------------
@pytest.mark.parametrize("line", ["hubC:", "hubC: ''", "hubC: null"])
def test_2_an_outpost_with_a_passwordless_hub_does_not_start(tmp_path: Path, line: str) -> None:
    creds = tmp_path / "hubs.yaml"
    creds.write_text(f"hub-a: {secrets.token_hex(8)}\n{line}\n")
    proc = subprocess.run(
        [str(VENV_BIN / "nfdi-launcher"), "outpost", "--port", "0", "--credentials", str(creds),
         "--db", str(tmp_path / "o.sqlite")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2  # so `curl -u hubC:None` has nothing to answer it
    assert "hub 'hubC' has no password" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- 3. unauthenticated bodies buffered whole -----------------------------------------------
def huge_post(port: int, path: str, method: str = "POST", mb: int = 90) -> tuple[bytes, float]:
    """Headers declaring *mb* MB, then the body as fast as the server takes it; the answer."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {mb * 2**20}\r\n\r\n").encode()
    started = time.monotonic()
    answer = raw_request(port, head + b"[" * (mb * 2**20), read_timeout=30)
    return answer, time.monotonic() - started


def test_3_a_90mb_post_to_the_outpost_is_refused_before_it_is_read(
        outpost_factory: Callable[..., OutpostProc]) -> None:
    outpost = outpost_factory()
    rss = wait_rss_settled(lambda: rss_of(outpost.process.pid))  # type: ignore[union-attr]
    answer, _took = huge_post(outpost.port, "/services")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert wait_rss_settled(lambda: rss_of(outpost.process.pid)) - rss < 10  # type: ignore[union-attr]
    assert outpost.request("GET", "/ping", hub=None).status_code == 200


def test_3_a_90mb_post_to_the_launcher_is_refused_before_it_is_read(guarded: LauncherProc) -> None:
    rss = wait_rss_settled(guarded.rss_mb)
    path = urlsplit(guarded.url).path
    for target, method in ((path + "api/v1/builds", "POST"), (path + "versions", "GET")):
        answer, _took = huge_post(guarded.port, target, method)
        assert answer.startswith(b"HTTP/1.1 413"), (target, answer[:100])
    assert wait_rss_settled(guarded.rss_mb) - rss < 10


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# -- 4. percent-encoded secrets in the access log --------------------------------------------
def test_4_an_encoded_token_in_a_pasted_url_never_reaches_the_log(guarded: LauncherProc) -> None:
    secret = "ghp_" + secrets.token_hex(18)
    r = guarded.get("launch?id=" + quote(f"https://user:{secret}@github.com/o/r", safe=""))
    assert r.status_code in (400, 403, 404, 422, 502)
    time.sleep(0.3)
    log = guarded.log()
    assert "/launch?id=" in log  # the request was logged ...
    assert secret not in log  # ... without the token
    assert secret[4:] not in log


# -- 5. redirects leave base_url -----------------------------------------------------------
@pytest.mark.parametrize("path", [
    "r2d/gh%2F..%2F..%2F..%2F..%2Fhub%2Flogout/x",  # the request of the report
    "r2d/gh/..%2F..%2F..%2F..%2Fhub%2Flogout/x",
    "r2d/gh/%2e%2e/%2e%2e/%2e%2e/hub/logout",
    "r2d/gh/%252e%252e/%252e%252e/hub/logout",
    "r2d/gh/..%5C..%5C..%5Chub/logout",
    "repo/..%2F..%2F..%2Fhub/logout",
    "repo/%2e%2e/%2e%2e",
])
def test_5_redirects_never_leave_the_base_url(guarded: LauncherProc, path: str) -> None:
    r = guarded.get(path)
    location = r.headers.get("Location", "")
    if location:
        assert r.status_code in (301, 302)
        assert location.startswith(urlsplit(guarded.url).path + "v2/"), location
        resolved = requests.compat.urljoin(guarded.url, location)  # what a browser does with it
        assert urlsplit(resolved).path.startswith(urlsplit(guarded.url).path), resolved
    else:
        assert r.status_code == 400, (r.status_code, r.text[:200])


def test_5_the_loading_page_never_points_its_stream_outside(guarded: LauncherProc) -> None:
    r = guarded.get("v2/gh/%2e%2e/%2e%2e/%2e%2e/hub/logout")
    assert r.status_code == 400
    assert "build/gh/" not in r.text


# -- 6. rate limits easy to get around -------------------------------------------------------
def test_6_build_tokens_do_not_skip_the_limit_and_resolve_launch_count(
        launcher_factory: Callable[..., LauncherProc], module_canary: Canary) -> None:
    launcher = launcher_factory("c.Admission.rate_limit = 3", env=to_canary(module_canary))
    codes = [launcher.get("v2/gh/o/r/HEAD").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # each /v2 page (which hands out a token) counts
    other = launcher_factory("c.Admission.rate_limit = 3", env=to_canary(module_canary))
    codes = [other.get(path).status_code for path in (
        "api/v1/resolve?id=doi:10.1234/none", "launch?id=doi:10.1234/none",
        "api/v1/resolve?id=doi:10.1234/none", "launch?id=doi:10.1234/none")]
    assert 429 not in codes[:3]
    assert codes[3] == 429
    assert "Rate limit exceeded" in other.get("api/v1/resolve?id=x").json()["message"]


def test_6_a_pages_token_is_free_once_then_counted(launcher_factory: Callable[..., LauncherProc],
                                                   module_canary: Canary) -> None:
    launcher = launcher_factory("c.Admission.rate_limit = 2", env=to_canary(module_canary))
    page = launcher.get("v2/gh/o/r/HEAD")  # 1 of 2
    build_url = json.loads(page.text.split("data-config=\"", 1)[1].split("\"", 1)[0]
                           .replace("&quot;", "\"").replace("&amp;", "&"))["build_url"]
    stream = launcher.origin + build_url
    first = requests.get(stream, headers={"Accept": "text/event-stream"}, timeout=30)
    assert first.headers.get("x-ratelimit-remaining") is None  # free: the page paid
    second = requests.get(stream, headers={"Accept": "text/event-stream"}, timeout=30)
    assert second.headers["x-ratelimit-remaining"] == "0"  # 2 of 2
    third = requests.get(stream, headers={"Accept": "text/event-stream"}, timeout=30)
    assert '"status_code": 429' in third.text


# -- 7. deeply nested JSON -----------------------------------------------------------------
def test_7_deep_json_is_a_400_from_the_launcher(guarded: LauncherProc) -> None:
    body = "[" * 5000 + "]" * 5000  # 10 KB, 5000 levels
    r = requests.post(guarded.url + "api/v1/builds", data=body, timeout=30)
    assert r.status_code == 400
    assert "nested deeper" in r.json()["message"]
    assert "RecursionError" not in guarded.log()


def test_7_deep_json_is_a_422_from_the_outpost(outpost_factory: Callable[..., OutpostProc]) -> None:
    outpost = outpost_factory()
    r = outpost.request("POST", "/services", data="[" * 5000 + "]" * 5000)
    assert r.status_code == 422
    assert "RecursionError" not in r.text
    assert "nested deeper" in json.dumps(r.json())
