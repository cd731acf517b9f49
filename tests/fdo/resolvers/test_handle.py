"""Handle PIDs and FDO records via the Handle REST API.

The B2HANDLE records are recorded test fixtures. FDO records are CONSTRUCTED in the Handle
REST shape of handle-b2handle-handlerecord_for_reading.json, with the typed values of the
real FDO 21.11152/474a4b1c-... (typed-pid-maker-record-21.11152-474a4b1c.json): type PIDs
as value types, HS_ADMIN at index 100.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from fdo.errors import NotFound, RefusedTarget, UnsupportedIdentifier
from fdo.resolve import Resolution
from fdo.resolvers.handle import DIGITAL_OBJECT_LOCATION, KIP, checksum_of, locations
from tests.fdo.conftest import fixture_json
from tests.harness.gitserver import GitServer, Rewriter
from tests.harness.replay import ReplayServer

API = "https://hdl.handle.net/api/handles"
FDO_PID = "21.11152/474a4b1c-de93-4d4a-b33d-1d32d63baf4b"


def value(index: int, type_: str, data: str) -> dict[str, Any]:
    return {"index": index, "type": type_, "data": {"format": "string", "value": data},
            "ttl": 86400, "timestamp": "2024-10-14T07:16:46Z"}


def fdo_record(pid: str, location: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    typed = fixture_json("typed-pid-maker-record-21.11152-474a4b1c.json")["entries"]
    admin = copy.deepcopy(fixture_json("handle-b2handle-handlerecord_for_reading.json")["values"][0])
    values = [admin, value(1, "URL", "https://example.org/landing-page")]
    for i, (type_pid, entries) in enumerate(sorted(typed.items()), start=2):
        data = location if type_pid == DIGITAL_OBJECT_LOCATION else entries[0]["value"]
        values.append(value(i, type_pid, data))
    return {"responseCode": 1, "handle": pid, "values": values + (extra or [])}


def test_fdo_record_locates_the_object_and_carries_its_checksum(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    record = fdo_record(FDO_PID, "https://zenodo.org/api/files/x/WRI1030197-catalog-stac.json")
    replay.add(f"{API}/{FDO_PID}", body=record)
    target = resolution().resolve(f"hdl:{FDO_PID}")
    assert (target.kind, target.provider) == ("archive", "hdl")
    sha = "a92ad3bd2b0856b70d3f98cb2fa21964ea7f91218c46e327b65a0937c50a885c"
    assert target.files[0].checksum == f"sha256:{sha}"
    assert target.files[0].url.endswith("WRI1030197-catalog-stac.json")  # digitalObjectLocation before URL
    assert target.provenance["fdo_profile"] == "21.T11148/b9b76f887845e32d29f7"
    assert target.provenance["handle_index"] != "1"
    assert any("lists 2 locations" in w for w in target.warnings)


def test_handle_whose_location_is_a_git_repository(
    resolution: Callable[..., Resolution], replay: ReplayServer, git_rewrites: Rewriter,
    git_server: GitServer,
) -> None:
    git_rewrites({"https://github.com/nfdi/rees": "rees-dockerfile"})
    record = fdo_record("21.11152/git-1", "https://github.com/nfdi/rees/tree/v1.0")
    replay.add(f"{API}/21.11152/git-1", body=record)
    target = resolution().resolve("https://hdl.handle.net/21.11152/git-1")
    assert target.kind == "git"
    assert target.ref == git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    assert target.chain[0].from_ == "hdl:21.11152/git-1"
    assert target.chain[0].via == "handle"
    assert target.provenance["handle"] == "21.11152/git-1"


def test_handle_pointing_at_a_doi_is_followed(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    replay.add(f"{API}/21.11152/doi-1", body={"responseCode": 1, "handle": "21.11152/doi-1",
               "values": [value(1, "URL", "https://zenodo.org/records/7834392")]})
    target = resolution().resolve("hdl:21.11152/doi-1")
    assert target.provider == "zenodo"
    assert target.ref == "7834392@162"


def test_not_found_is_read_from_the_404_body(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    replay.add(f"{API}/21.11152/gone", status=404, body={"responseCode": 100, "handle": "21.11152/gone"})
    with pytest.raises(NotFound, match="responseCode 100"):
        resolution().resolve("hdl:21.11152/gone")


def test_values_not_found_code_200(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    replay.add(f"{API}/21.11152/empty", body={"responseCode": 200, "handle": "21.11152/empty"})
    with pytest.raises(NotFound, match="no values"):
        resolution().resolve("hdl:21.11152/empty")


def test_recorded_record_without_locations(resolution: Callable[..., Resolution]) -> None:
    with pytest.raises(UnsupportedIdentifier, match="no location"):
        resolution().resolve("hdl:someprefix/somesuffix")


def test_plain_handle_to_a_landing_page_is_refused(resolution: Callable[..., Resolution]) -> None:
    with pytest.raises(UnsupportedIdentifier, match="web page"):
        resolution().resolve("hdl:someprefix/with-10320loc")


def test_cycle_between_handles_is_refused(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    replay.add(f"{API}/21.1/a", body={"responseCode": 1, "values": [value(1, "URL", "https://hdl.handle.net/21.1/b")]})
    replay.add(f"{API}/21.1/b", body={"responseCode": 1, "values": [value(1, "URL", "https://hdl.handle.net/21.1/a")]})
    with pytest.raises(RefusedTarget, match="loops back"):
        resolution().resolve("hdl:21.1/a")


def test_deep_chain_is_refused(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    for i in range(12):
        replay.add(f"{API}/21.1/d{i}", body={"responseCode": 1,
                   "values": [value(1, "URL", f"https://hdl.handle.net/21.1/d{i + 1}")]})
    with pytest.raises(RefusedTarget, match="more than 8 resolution hops"):
        resolution().resolve("hdl:21.1/d0")


def test_location_order_and_10320_loc_weights() -> None:
    rec = fixture_json("handle-b2handle-handlerecord_with_10320LOC.json")["values"]
    locs = locations(rec)
    assert [loc.url for loc in locs][0] == "http://foo.bar"  # weight 1 before weight 0
    mixed = [value(5, "URL", "https://u5"), value(2, "URL", "https://u2"),
             value(9, DIGITAL_OBJECT_LOCATION, "https://dol9"), value(3, KIP, "21.T11148/x")]
    assert [loc.url for loc in locations(mixed)] == ["https://dol9", "https://u2", "https://u5"]


@pytest.mark.parametrize(("data", "expected"), [
    ('{ "sha256sum": "' + "ab" * 32 + '" }', "sha256:" + "ab" * 32),
    ("md5:" + "c" * 32, "md5:" + "c" * 32),
    ("D" * 40, "sha1:" + "d" * 40),
])
def test_checksum_attribute_forms(data: str, expected: str) -> None:
    assert checksum_of([value(1, "21.T11148/92e200311a56800b3e47", data)]) == expected


@pytest.mark.parametrize("good", [True, False])
def test_fdo_checksum_is_verified_when_fetching(
    good: bool, resolution: Callable[..., Resolution], replay: ReplayServer, tmp_path: Any
) -> None:
    """CONSTRUCTED FDO whose digitalObjectLocation serves a small JSON file; the checksum
    attribute (HMC-KIP type 21.T11148/82e2503c49209e987740, JSON form as in the real record)
    is checked by fetch: a wrong checksum fails and leaves nothing behind."""
    import hashlib

    from fdo.errors import FetchError
    from fdo.fetch import fetch

    payload = b'{"type": "Catalog", "id": "demo"}\n'
    digest = hashlib.sha256(payload if good else b"other bytes").hexdigest()
    replay.add("https://zenodo.org/api/files/fdo/catalog.json", body=payload,
               headers={"Content-Type": "application/json"})
    record = fdo_record("21.11152/fdo-fetch", "https://zenodo.org/api/files/fdo/catalog.json")
    for v in record["values"]:
        if v["type"] == "21.T11148/82e2503c49209e987740":
            v["data"]["value"] = '{ "sha256sum": "' + digest + '" }'
    replay.add(f"{API}/21.11152/fdo-fetch", body=record)
    target = resolution().resolve("hdl:21.11152/fdo-fetch")
    assert target.files[0].checksum == f"sha256:{digest}"
    dest = tmp_path / "content"
    if good:
        fetch(target, dest)
        assert (dest / "catalog.json").read_bytes() == payload
    else:
        with pytest.raises(FetchError, match="checksum"):
            fetch(target, dest)
        assert not dest.exists() or list(dest.iterdir()) == []
