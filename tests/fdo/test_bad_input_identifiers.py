"""Hostile and malformed identifiers: each gets a clear one-line refusal, no request reaches
the canary, and nothing is written.

- SYNTAX cases are refused by parsing (no socket is opened);
- records pointing at loopback are checked in-process against the canary (loopback only);
- hosts naming private, link-local or metadata addresses run inside a network namespace
  with only loopback (``netns_run``), so not even a wrong implementation could send a packet.

Constructed records (Handle values, DataCite records, RSD rows, RO-Crates, redirects) are
built in the exact shape of the recorded fixtures named in tests/fdo/resolvers/.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fdo.errors import MalformedIdentifier, RefusedTarget, ResolveError, UnsupportedIdentifier
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.fdo.hostile_ids import NETWORK, SYNTAX
from tests.fdo.netns_cases import RECORD_CASES
from tests.harness.canary import Canary
from tests.harness.gitserver import Rewriter
from tests.harness.replay import ReplayServer


@pytest.fixture(autouse=True)
def _guard(no_dns_beyond_loopback: list[str]) -> None:
    """Any name lookup other than loopback fails the test (see tests/fdo/conftest.py)."""


def _assert_clear(err: BaseException) -> None:
    message = str(err)
    assert message, message
    assert "\n" not in message, message
    assert len(message) < 400, message
    assert "Traceback" not in message


@pytest.mark.parametrize("case", SYNTAX, ids=[repr(c[:40]) for c in SYNTAX])
def test_syntax_refusals(case: str, canary: Canary, nothing_written: Path, rewrites_env: dict[str, str]) -> None:
    with pytest.raises((MalformedIdentifier, RefusedTarget, UnsupportedIdentifier)) as info:
        Resolution().resolve(case)
    _assert_clear(info.value)
    assert canary.requests == []
    assert list(nothing_written.iterdir()) == []


def _handle(replay: ReplayServer, pid: str, location: str, type_: str = "URL") -> str:
    replay.add(f"https://hdl.handle.net/api/handles/{pid}", body={
        "responseCode": 1, "handle": pid,
        "values": [{"index": 1, "type": type_, "data": {"format": "string", "value": location}}]})
    return f"hdl:{pid}"


def _datacite_to(replay: ReplayServer, doi: str, url: str, related: str = "") -> str:
    dc = copy.deepcopy(fixture_json("datacite-10.5281-zenodo.48440.json"))
    dc["data"]["attributes"]["url"] = url
    dc["data"]["attributes"]["relatedIdentifiers"] = [
        {"relationType": "IsSupplementTo", "relatedIdentifier": related, "relatedIdentifierType": "URL"}
    ] if related else []
    replay.add(f"https://api.datacite.org/dois/{doi}", body=dc)
    return doi


RecordCase = Callable[[ReplayServer, Canary, Rewriter], str]


def _rsd(replay: ReplayServer, canary: Canary, _: Rewriter) -> str:
    row = dict(fixture_json("rsd-software-row-mock.json"), slug="evil", concept_doi=None)
    replay.add("https://nfdi.software/api/v1/software?slug=eq.evil&select=id,slug,brand_name,concept_doi,is_published", body=[row])
    replay.add(f"https://nfdi.software/api/v1/rpc/repository_by_software?software_id={row['id']}&order=position,url",
               body=[{"url": f"https://127.0.0.1:{canary.port}/o/r.git", "code_platform": "other"}])
    return "https://nfdi.software/software/evil"


def _crate(replay: ReplayServer, canary: Canary, rewrite: Rewriter) -> str:
    rewrite({"https://workflowhub.eu/": f"{replay.url}/workflowhub.eu/"})
    crate = fixture_json("ro-crate-metadata-galaxy-sortchangecase.json")
    crate["@graph"][1]["codeRepository"] = {"@id": f"https://localhost:{canary.port}/o/r.git"}
    replay.add("https://workflowhub.eu/evil/ro-crate-metadata.json", body=crate)
    return "https://workflowhub.eu/evil/ro-crate-metadata.json"


def _redirect(replay: ReplayServer, canary: Canary, _: Rewriter) -> str:
    replay.add("https://zenodo.org/api/records/666", status=302, headers={"Location": f"{canary.url}/steal"})
    return "https://zenodo.org/records/666"


def _redirect_https(replay: ReplayServer, canary: Canary, _: Rewriter) -> str:
    replay.add("https://zenodo.org/api/records/667", status=301,
               headers={"Location": f"https://127.0.0.1:{canary.port}/steal"})
    return "https://zenodo.org/records/667"


def _cycle(replay: ReplayServer, canary: Canary, _: Rewriter) -> str:
    _handle(replay, "21.9/b", "https://hdl.handle.net/21.9/c")
    _handle(replay, "21.9/c", "https://doi.org/10.9999/cyc")
    _datacite_to(replay, "10.9999/cyc", "https://hdl.handle.net/21.9/b",
                 related="https://github.com/o/r/tree/v1")
    replay.add("https://doi.org/ra/10.9999", body=[{"DOI": "10.9999", "RA": "DataCite"}])
    return "hdl:21.9/b"


def _deep(replay: ReplayServer, canary: Canary, _: Rewriter) -> str:
    for i in range(20):
        _handle(replay, f"21.9/deep{i}", f"https://hdl.handle.net/21.9/deep{i + 1}")
    return "hdl:21.9/deep0"


def _self(replay: ReplayServer, canary: Canary, _: Rewriter) -> str:
    return _handle(replay, "21.9/self", "https://hdl.handle.net/21.9/self")


RECORDS: dict[str, RecordCase] = {
    "handle URL -> loopback git": lambda r, c, _: _handle(r, "21.9/a", f"https://127.0.0.1:{c.port}/o/r.git"),
    "handle URL -> http loopback": lambda r, c, _: _handle(r, "21.9/h", f"{c.url}/o/r.git"),
    "FDO location -> loopback git": lambda r, c, _: _handle(
        r, "21.9/fdo", f"https://localhost:{c.port}/o/r.git", "21.T11148/b8457812905b83046284"),
    "handle URL -> ext::": lambda r, c, _: _handle(r, "21.9/ext", "ext::sh -c touch% /tmp/pwned"),
    "handle URL -> file://": lambda r, c, _: _handle(r, "21.9/file", "file:///etc/passwd"),
    "handle URL -> option": lambda r, c, _: _handle(r, "21.9/opt", "--upload-pack=touch /tmp/x"),
    "handle 10320/LOC -> loopback": lambda r, c, _: _handle(
        r, "21.9/loc", f'<locations><location weight="1" href="https://127.0.0.1:{c.port}/x.git"/></locations>',
        "10320/LOC"),
    "handle cycle via DOI": _cycle,
    "handle points at itself": _self,
    "handle chain deeper than limit": _deep,
    "datacite url -> loopback git": lambda r, c, _: _datacite_to(
        r, "10.5281/zenodo.9001", f"https://127.0.0.1:{c.port}/o/r.git"),
    "datacite related -> injected ref": lambda r, c, _: _datacite_to(
        r, "10.5281/zenodo.9002", "https://example.org/landing",
        related="https://github.com/o/r/tree/--upload-pack=touch%20x"),
    "rsd repository -> loopback": _rsd,
    "ro-crate codeRepository -> localhost": _crate,
    "zenodo redirect -> http canary": _redirect,
    "zenodo redirect -> https loopback": _redirect_https,
}


#: every record case is a policy refusal except these
EXPECTED: dict[str, type[ResolveError]] = {
    "handle URL -> option": MalformedIdentifier,
    "datacite related -> injected ref": MalformedIdentifier,
}


@pytest.mark.parametrize("name", list(RECORDS))
def test_records_pointing_at_bad_places(
    name: str, replay: ReplayServer, canary: Canary, extra_rewrites: Rewriter, nothing_written: Path
) -> None:
    identifier = RECORDS[name](replay, canary, extra_rewrites)
    with pytest.raises(ResolveError) as info:
        Resolution().resolve(identifier)
    assert type(info.value) is EXPECTED.get(name, RefusedTarget), info.value
    _assert_clear(info.value)
    assert canary.requests == []
    assert list(nothing_written.iterdir()) == []


@pytest.fixture(scope="module")
def netns_results(netns: Any) -> dict[str, Any]:
    proc: subprocess.CompletedProcess[str] = netns.run_python(
        "import tests.fdo.netns_cases as m; m.main()", timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


NETNS_CASES = [*NETWORK, *RECORD_CASES, "https://zenodo.org/records/777"]


@pytest.mark.netns
@pytest.mark.parametrize("case", NETNS_CASES)
def test_private_and_metadata_hosts_refused_in_netns(case: str, netns_results: dict[str, Any]) -> None:
    result = netns_results["results"][case]
    assert result["error"] == "RefusedTarget", result
    assert "\n" not in result["message"]
    assert result["message"]
    assert netns_results["contacted"] == []
