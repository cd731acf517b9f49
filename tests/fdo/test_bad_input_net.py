"""Bad-input corpus, network part: every hostile URL, redirect, git value and archive is
refused with a clear message, the canary gets no request, nothing is written outside
the target directory.

Cases naming private, link-local or metadata addresses run inside a loopback-only
network namespace (``tests.harness.netns``); the rest are refused before any socket to
them is opened and only ever point at loopback (the canary).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fdo import errors
from fdo.fetch import fetch
from fdo.net import HttpClient, NetConfig
from fdo.target import FileEntry, LaunchTarget
from tests.fdo.net import carried
from tests.fdo.net.cases import LOCAL, NETNS, Case, run_case
from tests.fdo.net.hostile import HOSTILE, TEST_LIMITS, zip_bytes
from tests.harness.canary import Canary
from tests.harness.replay import ReplayServer

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")


def _check(case: Case, exc: str, msg: str) -> None:
    assert exc == case.exc, f"{case.id}: expected {case.exc}, got {exc}: {msg}"
    assert case.message in msg, f"{case.id}: {msg!r} lacks {case.message!r}"
    assert "\n" not in msg, "refusals are one line"


@pytest.mark.parametrize("case", LOCAL, ids=lambda c: c.id)
def test_local_refusal(case: Case, replay: ReplayServer, canary: Canary, tmp_path: Path) -> None:
    exc, msg = run_case(case, replay, canary, tmp_path)
    _check(case, exc, msg)
    assert canary.requests == []
    assert list(tmp_path.iterdir()) == []  # no marker file, no clone directory


@pytest.fixture(scope="module")
def netns_results(netns_python: Callable[..., subprocess.CompletedProcess[str]]) -> dict[str, list[object]]:
    ids = json.dumps([c.id for c in NETNS])
    proc = netns_python(f"from tests.fdo.net.cases import run_batch; run_batch({ids})", timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results: dict[str, list[object]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


@pytest.fixture(scope="module")
def netns_python(netns: object) -> Callable[..., subprocess.CompletedProcess[str]]:
    return netns.run_python  # type: ignore[attr-defined, no-any-return]


@pytest.mark.netns
@pytest.mark.parametrize("case", NETNS, ids=lambda c: c.id)
def test_private_address_refusal_in_netns(case: Case, netns_results: dict[str, list[object]]) -> None:
    exc, msg, canary_hits, marker = netns_results[case.id]
    _check(case, str(exc), str(msg))
    assert canary_hits == 0
    assert marker is False


# -- archives and downloads through fetch() ---------------------------------------------

def _target(*files: FileEntry) -> LaunchTarget:
    return LaunchTarget(identifier="10.5281/zenodo.666", kind="archive", provider="zenodo",
                        source="https://zenodo.org/records/666", ref="666@1",
                        launch_path="v2/zenodo/10.5281/zenodo.666", files=files)


def _fetch_refused(target: LaunchTarget, replay: ReplayServer, tmp_path: Path, exc: str,
                   message: str, **cfg: object) -> None:
    http = HttpClient(NetConfig(url_rewrites=replay.rewrites(), retries=0, **{**TEST_LIMITS, **cfg}))
    box = tmp_path / "box"
    box.mkdir()
    with pytest.raises(Exception) as err:
        fetch(target, box / "ctx", http=http)
    assert isinstance(err.value, getattr(errors, exc)), f"{type(err.value).__name__}: {err.value}"
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert list(box.iterdir()) == []  # target removed, nothing beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box"]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_via_fetch(case: str, replay: ReplayServer, canary: Canary, tmp_path: Path) -> None:
    name, build, message = HOSTILE[case]
    data = build()
    url = f"https://zenodo.org/records/666/files/{case}/{name}"
    replay.add(url, body=data)
    target = _target(FileEntry(name, url, len(data), "sha256:" + hashlib.sha256(data).hexdigest()))
    _fetch_refused(target, replay, tmp_path, "FetchError", message)
    assert canary.requests == []


GOOD = zip_bytes([("a.txt", b"a")])
MD5 = "md5:" + hashlib.md5(GOOD).hexdigest()  # noqa: S324 - the records' own algorithm

DOWNLOADS: dict[str, tuple[FileEntry, str, str, dict[str, object]]] = {
    "checksum-md5-mismatch": (FileEntry("a.zip", "https://zenodo.org/f/good", None, "md5:" + "0" * 32), "FetchError", "checksum mismatch", {}),
    "checksum-sha256-mismatch": (FileEntry("a.zip", "https://zenodo.org/f/good", None, "sha256:" + "f" * 64), "FetchError", "checksum mismatch", {}),
    "checksum-unknown-algo": (FileEntry("a.zip", "https://zenodo.org/f/good", None, "crc32:1234"), "FetchError", "unsupported checksum", {}),
    "checksum-malformed": (FileEntry("a.zip", "https://zenodo.org/f/good", None, "deadbeef"), "FetchError", "unsupported checksum", {}),
    "size-lies": (FileEntry("a.zip", "https://zenodo.org/f/good", 3, MD5), "FetchError", "the record says 3", {}),
    "size-over-limit-in-record": (FileEntry("a.zip", "https://zenodo.org/f/good", 10**12, MD5), "FetchError", "over the remaining limit", {}),
    "download-too-big": (FileEntry("big.bin", "https://zenodo.org/f/big", None, None), "FetchError", "larger than the limit", {"max_download_bytes": 1000}),
    "name-dotdot": (FileEntry("../evil.txt", "https://zenodo.org/f/good", None, None), "FetchError", "escapes with '..'", {}),
    "name-absolute": (FileEntry("/etc/cron.d/evil", "https://zenodo.org/f/good", None, None), "FetchError", "absolute member path", {}),
    "name-backslash": (FileEntry("..\\evil", "https://zenodo.org/f/good", None, None), "FetchError", "backslash", {}),
    "url-file": (FileEntry("p", "file:///etc/passwd", None, None), "RefusedTarget", "scheme 'file'", {}),
    "url-canary-http": (FileEntry("p", "{canary}/x", None, None), "RefusedTarget", "scheme 'http'", {}),
    "url-canary-http-allowed": (FileEntry("p", "{canary}/x", None, None), "RefusedTarget", "loopback", {"allow_http": True}),
    "url-localhost": (FileEntry("p", "https://localhost:{cport}/x", None, None), "RefusedTarget", "names this machine", {}),
    "url-redirect-to-canary": (FileEntry("p", "https://zenodo.org/f/to-canary", None, None), "RefusedTarget", "downgrade", {}),
    "url-missing": (FileEntry("p", "https://zenodo.org/f/missing", None, None), "NotFound", "HTTP 404", {}),
}


@pytest.mark.parametrize("case", sorted(DOWNLOADS))
def test_bad_download(case: str, replay: ReplayServer, canary: Canary, tmp_path: Path) -> None:
    entry, exc, message, cfg = DOWNLOADS[case]
    replay.add("https://zenodo.org/f/good", body=GOOD)
    replay.add("https://zenodo.org/f/big", body=b"x" * 5000)
    replay.add("https://zenodo.org/f/to-canary", status=302, headers={"Location": f"{canary.url}/x"})
    url = entry.url.replace("{canary}", canary.url).replace("{cport}", str(canary.port))
    target = _target(FileEntry(entry.name, url, entry.size, entry.checksum))
    _fetch_refused(target, replay, tmp_path, exc, message, **cfg)
    assert canary.requests == []



# -- URLs a resolved target would carry (issue 17) ----------------------------------------

def _target_refused(case: carried.Carried, result: dict[str, Any]) -> None:
    message = result["message"]
    assert result["exc"] == "RefusedTarget", f"{case.id}: {result['exc']}: {message}"
    assert result["identifier"] in message, f"{case.id}: the record is not named: {message}"
    assert case.host in message, f"{case.id}: the refused host {case.host} is not named: {message}"
    assert case.reason in message, f"{case.id}: {message!r} lacks {case.reason!r}"
    assert "\n" not in message
    assert result["canary"] == 0, f"{case.id}: the canary was contacted"
    if not case.cli:
        return
    assert result["exit"] == 2, f"{case.id}: exit {result['exit']}: {result['stderr']}"
    assert result["stdout"] == "", f"{case.id}: a partial target was printed"
    lines = result["stderr"].splitlines()
    assert len(lines) == 1, f"{case.id}: {result['stderr']}"
    assert lines[0] == f"error: {message}"


@pytest.mark.usefixtures("no_dns_beyond_loopback")
@pytest.mark.parametrize("case", carried.LOCAL, ids=lambda c: c.id)
def test_carried_url_refuses_the_target(case: carried.Carried, replay: ReplayServer, canary: Canary) -> None:
    _target_refused(case, carried.run_case(case, replay, canary))


@pytest.fixture(scope="module")
def carried_netns(netns_python: Callable[..., subprocess.CompletedProcess[str]]) -> dict[str, Any]:
    ids = json.dumps([c.id for c in carried.NETNS])
    proc = netns_python(f"from tests.fdo.net.carried import run_batch; run_batch({ids})", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


@pytest.mark.netns
@pytest.mark.parametrize("case", carried.NETNS, ids=lambda c: c.id)
def test_carried_internal_url_refuses_the_target_in_netns(case: carried.Carried, carried_netns: dict[str, Any]) -> None:
    _target_refused(case, carried_netns[case.id])


GOOD_RECORDS = [
    carried.Carried("zenodo-good", "zenodo", "https://zenodo.org/api/records/1/files/a.csv/content", "", "", True, True),
    carried.Carried("zenodo-legacy-good", "zenodo-legacy", "https://zenodo.org/api/files/b/a.csv", "", "", True),
    carried.Carried("figshare-good", "figshare", "https://ndownloader.figshare.com/files/77", "", "", True),
    carried.Carried("ckan-good", "ckan", "https://data.depositar.io/dataset/x/resource/1/download/a.csv", "", "", True),
    carried.Carried("rocrate-good", "rocrate", "https://zenodo.org/records/1/files/c.crate.zip", "", ""),
]


@pytest.mark.usefixtures("no_dns_beyond_loopback")
@pytest.mark.parametrize("case", GOOD_RECORDS, ids=lambda c: c.id)
def test_records_with_only_allowed_urls_still_resolve(case: carried.Carried, replay: ReplayServer,
                                                      canary: Canary) -> None:
    result = carried.run_case(case, replay, canary)
    assert result["exc"] == "none", result["message"]
    if case.cli:
        assert result["exit"] == 0, result["stderr"]
        files = json.loads(result["stdout"])["files"]
        assert len(files) == carried.GOOD + 1
