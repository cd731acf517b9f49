"""nfdi.software / RSD pages and RO-Crates.

RSD answers are CONSTRUCTED in the PostgREST row shape of rsd-software-row-mock.json and
rsd-repository_url-esmvalcore-mock.json (both frontend mocks, as the fixtures say).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import quote

import pytest

from fdo.errors import NotFound
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.harness.gitserver import GitServer, Rewriter
from tests.harness.replay import FIXTURES, ReplayServer

RSD = "https://nfdi.software/api/v1"


def software_row(replay: ReplayServer, slug: str, concept_doi: str | None) -> dict[str, str]:
    row = dict(fixture_json("rsd-software-row-mock.json"), slug=slug, concept_doi=concept_doi)
    replay.add(f"{RSD}/software?slug=eq.{slug}&select=id,slug,brand_name,concept_doi,is_published", body=[row])
    return row


def repos(replay: ReplayServer, software_id: str, urls: list[str]) -> None:
    base = fixture_json("rsd-repository_url-esmvalcore-mock.json")
    rows = [dict(base, url=u, code_platform="github") for u in urls]
    replay.add(f"{RSD}/rpc/repository_by_software?software_id={software_id}&order=position,url", body=rows)


def test_rsd_concept_doi_is_followed(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    software_row(replay, "covid-chatter", "10.5281/zenodo.7834392")
    # DataCite record CONSTRUCTED from datacite-10.5281-zenodo.1196821.json
    dc = fixture_json("datacite-10.5281-zenodo.1196821.json")
    dc["data"]["attributes"]["url"] = "https://zenodo.org/records/7834392"
    replay.add("https://api.datacite.org/dois/10.5281/zenodo.7834392", body=dc)
    target = resolution().resolve("https://nfdi.software/software/covid-chatter")
    assert target.provider == "zenodo"
    assert target.ref == "7834392@162"
    assert [h.via for h in target.chain][:2] == ["rsd", "doi"]


def test_rsd_single_repository_is_resolved_with_git(
    resolution: Callable[..., Resolution], replay: ReplayServer, git_rewrites: Rewriter,
    git_server: GitServer,
) -> None:
    row = software_row(replay, "rees", None)
    repos(replay, row["id"], ["https://github.com/nfdi/rees"])
    git_rewrites({"https://github.com/nfdi/rees": "rees-dockerfile"})
    target = resolution().resolve("rsd:nfdi.software/rees")
    assert target.ref == git_server.sha("rees-dockerfile", "refs/heads/main")


def test_rsd_several_repositories_are_choices(
    resolution: Callable[..., Resolution], replay: ReplayServer, extra_rewrites: Rewriter
) -> None:
    # the choices are checked like downloads: github.com is mirrored here, as gitlab.com is
    extra_rewrites({"https://github.com/": f"{replay.url}/github.com/"})
    row = software_row(replay, "multi", None)
    repos(replay, row["id"], ["https://github.com/a/one", "https://gitlab.com/b/two"])
    target = resolution().resolve("https://nfdi.software/software/multi")
    assert [c.identifier for c in target.choices] == ["https://github.com/a/one", "https://gitlab.com/b/two"]


def test_rsd_unknown_slug(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    replay.add(f"{RSD}/software?slug=eq.nope&select=id,slug,brand_name,concept_doi,is_published", body=[])
    with pytest.raises(NotFound, match="no software 'nope'"):
        resolution().resolve("rsd/nfdi.software/nope")


CRATE = "https://workflowhub.eu/crates/galaxy/ro-crate-metadata.json"


def test_ro_crate_without_repository_uses_crate_files(
    resolution: Callable[..., Resolution], replay: ReplayServer, extra_rewrites: Rewriter
) -> None:
    """The recorded Galaxy crate, served under a constructed URL."""
    extra_rewrites({"https://workflowhub.eu/": f"{replay.url}/workflowhub.eu/"})
    replay.add(CRATE, body=fixture_json("ro-crate-metadata-galaxy-sortchangecase.json"))
    target = resolution().resolve(CRATE)
    names = [f.name for f in target.files]
    assert names[0] == "ro-crate-metadata.json"
    assert "sort-and-change-case.ga" in names
    assert "test/test1/sort-and-change-case-test.yml" in names
    assert all(f.url.startswith("https://workflowhub.eu/crates/galaxy/") for f in target.files)


def test_ro_crate_code_repository_leads_to_git(
    resolution: Callable[..., Resolution], replay: ReplayServer, extra_rewrites: Rewriter,
    git_rewrites: Rewriter, git_server: GitServer,
) -> None:
    """CONSTRUCTED: the Galaxy crate with codeRepository on its main entity."""
    extra_rewrites({"https://workflowhub.eu/": f"{replay.url}/workflowhub.eu/"})
    git_rewrites({"https://github.com/nfdi/rees": "rees-dockerfile"})
    crate = fixture_json("ro-crate-metadata-galaxy-sortchangecase.json")
    for entity in crate["@graph"]:
        if entity["@id"] == "sort-and-change-case.ga":
            entity["codeRepository"] = {"@id": "https://github.com/nfdi/rees"}
    replay.add(CRATE, body=crate)
    target = resolution().resolve(CRATE)
    assert target.kind == "git"
    assert target.ref == git_server.sha("rees-dockerfile", "refs/heads/main")
    assert target.chain[0].via == "ro-crate"


def test_ro_crate_files_target_has_a_pinned_launch_path_that_resolves_back(
    resolution: Callable[..., Resolution], replay: ReplayServer, extra_rewrites: Rewriter
) -> None:
    """The recorded Galaxy crate under a constructed URL; then CONSTRUCTED: a changed crate."""
    extra_rewrites({"https://workflowhub.eu/": f"{replay.url}/workflowhub.eu/"})
    body = (FIXTURES / "ro-crate-metadata-galaxy-sortchangecase.json").read_bytes()
    replay.add(CRATE, body=body, headers={"Content-Type": "application/ld+json"})
    digest = hashlib.sha256(body).hexdigest()
    target = resolution().resolve(CRATE)
    assert target.launch_path == f"v2/rocrate/{quote(CRATE, safe='')}/{digest}"
    assert target.ref == f"{CRATE}@sha256:{digest}"
    assert target.files[0].checksum == f"sha256:{digest}"
    assert target.files[0].size == len(body)
    again = resolution().resolve(target.launch_path)
    assert again.to_json() == target.with_(identifier=target.launch_path).to_json()
    replay.add(CRATE, body=body.replace(b"sort-and-change-case", b"sort-and-change-case-v2"))
    with pytest.raises(NotFound, match="changed since this link was made"):
        resolution().resolve(target.launch_path)
    assert resolution().resolve(CRATE).launch_path != target.launch_path  # a fresh pin


def test_ro_crate_zip_is_pinned_only_by_a_digest_in_the_spec(
    resolution: Callable[..., Resolution], replay: ReplayServer, extra_rewrites: Rewriter,
) -> None:
    extra_rewrites({"https://workflowhub.eu/": f"{replay.url}/workflowhub.eu/"})  # no DNS here
    zipped = "https://workflowhub.eu/crates/galaxy.crate.zip"
    loose = resolution().resolve(zipped)
    assert loose.launch_path == f"v2/rocrate/{quote(zipped, safe='')}"
    assert any("not pinned" in w for w in loose.warnings)
    assert loose.files[0].checksum is None
    digest = "ab" * 32
    pinned = resolution().resolve(f"{loose.launch_path}/{digest}")
    assert pinned.launch_path == f"{loose.launch_path}/{digest}"
    assert pinned.files[0].checksum == f"sha256:{digest}"
    assert not pinned.warnings
    assert replay.requests == []  # a zipped crate is not downloaded while resolving
