"""Fetch-time bounded polling: Software Heritage vault cooking and HydroShare bags.

Targets are resolved from the recorded payloads (SWH vault *pending* status, HydroShare
scimeta). The later answers of the upstream services are CONSTRUCTED in the exact shape
of the real ones: the vault's ``done``/``failed`` status is the recorded pending status
with ``status``/``progress_message`` changed (swh-web ``vault/api_views.py`` shape), and
HydroShare's "bag is being prepared" answers are 202 / a 200 HTML page, then a 302 to
``https://s3.hydroshare.org/bags/<id>.zip`` (repo2docker's hydroshare provider,
identifiers.md §3.4). Requests are counted: pending -> done happens on the N-th request,
so no test depends on the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fdo.errors import FetchError
from fdo.fetch import fetch
from fdo.net import HttpClient
from fdo.resolve import Resolution
from fdo.target import LaunchTarget
from tests.fdo.conftest import replay_client
from tests.fdo.net.hostile import tar_bytes, zip_bytes
from tests.harness.replay import FIXTURES, RecordedRequest, ReplayServer

SWH = "https://archive.softwareheritage.org"
SWHID = "swh:1:dir:977fc4b98c0e85816348cebd3b12026407c368b6"
STATUS_URL = f"{SWH}/api/1/vault/flat/{SWHID}/"
RAW_URL = f"{SWH}/api/1/vault/flat/{SWHID}/raw/"
PENDING: dict[str, Any] = json.loads((FIXTURES / "swh-vault-flat-pending-977fc4b9.json").read_text())
RID = "142c59757ed54de1816777828c9716e7"
BAG_URL = f"https://www.hydroshare.org/django_s3/download/bags/{RID}.zip"
S3_URL = f"https://s3.hydroshare.org/bags/{RID}.zip"

Answer = tuple[int, dict[str, str], bytes]

pytestmark = pytest.mark.usefixtures("no_dns_beyond_loopback")


def http_for(replay: ReplayServer, **kw: Any) -> HttpClient:
    return replay_client(replay, extra_hosts=("s3.hydroshare.org",), prepare_poll_interval=0.0, **kw)


def sequence(answers: list[Answer]) -> Callable[[RecordedRequest], Answer]:
    """Answer with the next item each time; the last one repeats."""
    it: Iterator[Answer] = iter(answers)
    last = answers[-1]

    def handler(req: RecordedRequest) -> Answer:
        return next(it, last)

    return handler


def vault(status: str, message: str | None) -> Answer:
    body = dict(PENDING, status=status, progress_message=message)
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def swh_target(resolution: Callable[..., Resolution]) -> LaunchTarget:
    """Resolution's wait is cut to the cooking request: the POST answers *pending*."""
    target = resolution(SwhResolver={"vault_max_polls": 1}).resolve(SWHID)
    assert target.provenance["vault_status_url"] == STATUS_URL
    assert any("still preparing" in w for w in target.warnings)
    return target


def test_swh_vault_is_polled_until_done_then_downloaded(
    swh_target: LaunchTarget, replay: ReplayServer, tmp_path: Path,
) -> None:
    replay.add(STATUS_URL, handler=sequence([vault("pending", "Processing..."),
                                             vault("pending", "Processing..."), vault("done", None)]))
    replay.add(RAW_URL, body=tar_bytes([(f"{SWHID}/README", b"hello"), (f"{SWHID}/binder/Dockerfile", b"FROM x")]))
    replay.requests.clear()
    out = fetch(swh_target, tmp_path / "ctx", http=http_for(replay))
    assert (out / "README").read_bytes() == b"hello"
    assert (out / "binder/Dockerfile").exists()
    calls = [(r.method, r.path.rsplit("/", 2)[-2]) for r in replay.requests]
    assert calls == [("POST", SWHID), ("GET", SWHID), ("GET", SWHID), ("GET", SWHID), ("GET", "raw")]


def test_swh_vault_failure_is_a_fetch_error_with_the_vault_message(
    swh_target: LaunchTarget, replay: ReplayServer, tmp_path: Path,
) -> None:
    replay.add(STATUS_URL, handler=sequence([vault("failed", "Internal Server Error. This incident will be reported.")]))
    with pytest.raises(FetchError, match="could not prepare .*Internal Server Error"):
        fetch(swh_target, tmp_path / "ctx", http=http_for(replay))
    assert not (tmp_path / "ctx").exists()
    assert not any(r.path.endswith("/raw/") for r in replay.requests)


@pytest.mark.parametrize(("bounds", "gets"), [
    ({"prepare_max_polls": 3, "prepare_max_seconds": 300.0}, 2),  # count bound: POST + 2 GETs
    ({"prepare_max_polls": 100, "prepare_max_seconds": 0.0}, 0),  # time bound: the POST only
])
def test_swh_vault_wait_is_bounded(
    swh_target: LaunchTarget, replay: ReplayServer, tmp_path: Path, bounds: dict[str, Any], gets: int,
) -> None:
    replay.add(STATUS_URL, handler=sequence([vault("pending", "Processing...")]))
    replay.requests.clear()
    with pytest.raises(FetchError, match="still preparing .*try again later"):
        fetch(swh_target, tmp_path / "ctx", http=http_for(replay, **bounds))
    assert [r.method for r in replay.requests] == ["POST"] + ["GET"] * gets
    assert not (tmp_path / "ctx").exists()


@pytest.fixture
def hs_target(resolution: Callable[..., Resolution]) -> LaunchTarget:
    target = resolution().resolve(f"hydroshare/{RID}")
    assert target.files[0].url == BAG_URL
    return target


def bag_zip() -> bytes:
    """A HydroShare BagIt bag: the resource's files live in ``<id>/data/contents/``."""
    return zip_bytes([(f"{RID}/bagit.txt", b"BagIt-Version: 0.97\n"),
                      (f"{RID}/data/resourcemetadata.xml", b"<rdf/>"),
                      (f"{RID}/data/contents/install.R", b"install.packages('x')\n"),
                      (f"{RID}/data/contents/notebook.ipynb", b"{}")])


def test_hydroshare_bag_is_polled_until_it_redirects(
    hs_target: LaunchTarget, replay: ReplayServer, tmp_path: Path,
) -> None:
    not_ready = json.dumps({"bag_status": "Not ready", "task_id": "0d2f4c1e"}).encode()
    replay.add(BAG_URL, handler=sequence([
        (202, {"Content-Type": "application/json"}, not_ready),
        (200, {"Content-Type": "text/html; charset=utf-8"}, b"<html>Preparing your bag...</html>"),
        (302, {"Location": S3_URL}, b""),
    ]))
    replay.add(S3_URL, body=bag_zip(), headers={"Content-Type": "application/zip"})
    replay.requests.clear()
    out = fetch(hs_target, tmp_path / "ctx", http=http_for(replay))
    assert sorted(p.name for p in out.iterdir()) == ["install.R", "notebook.ipynb"]
    hosts = [r.path.split("/")[1] for r in replay.requests]
    assert hosts == ["www.hydroshare.org"] * 4 + ["s3.hydroshare.org"]  # 3 polls, download


def test_hydroshare_bag_answering_200_zip_is_ready_at_once(
    hs_target: LaunchTarget, replay: ReplayServer, tmp_path: Path,
) -> None:
    replay.add(BAG_URL, body=bag_zip(), headers={"Content-Type": "application/zip"})
    out = fetch(hs_target, tmp_path / "ctx", http=http_for(replay))
    assert (out / "install.R").exists()


def test_hydroshare_bag_wait_is_bounded(
    hs_target: LaunchTarget, replay: ReplayServer, tmp_path: Path,
) -> None:
    replay.add(BAG_URL, status=202, body={"bag_status": "Not ready"})
    replay.requests.clear()
    with pytest.raises(FetchError, match="still preparing .*try again later"):
        fetch(hs_target, tmp_path / "ctx", http=http_for(replay, prepare_max_polls=4))
    assert len(replay.requests) == 4
    assert not (tmp_path / "ctx").exists()


def test_hydroshare_bag_error_status_is_a_fetch_error(
    hs_target: LaunchTarget, replay: ReplayServer, tmp_path: Path,
) -> None:
    replay.add(BAG_URL, status=403, body="forbidden")
    with pytest.raises(FetchError, match="HTTP 403"):
        fetch(hs_target, tmp_path / "ctx", http=http_for(replay))
