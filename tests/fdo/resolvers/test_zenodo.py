"""Zenodo (current + legacy JSON) and other InvenioRDM hosts against recorded records."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from fdo.errors import MalformedIdentifier, NotFound
from fdo.providers import SPEC_PROVIDERS, parse
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.harness.gitserver import Rewriter
from tests.harness.replay import ReplayServer


def test_current_record_lists_files_with_md5(resolution: Callable[..., Resolution]) -> None:
    target = resolution().resolve("https://zenodo.org/records/7834392")
    record = fixture_json("zenodo-record-7834392.json")
    assert (target.kind, target.provider, target.ref) == ("archive", "zenodo", "7834392@162")
    assert target.launch_path == "v2/zenodo/10.5281/zenodo.7834392"
    assert len(target.files) == len(record["files"])
    by_name = {f.name: f for f in target.files}
    first = record["files"][0]
    assert by_name[first["key"]].checksum == first["checksum"]
    assert by_name[first["key"]].url == first["links"]["self"]
    assert target.warnings == ()


def test_legacy_github_release_tag_missing_in_repo_warns(
    resolution: Callable[..., Resolution], git_rewrites: Rewriter
) -> None:
    """The recorded release names tag v3.0.1 of front-matter/commonmeta-ruby; the local
    scenario standing in for that repository has no such tag: provenance says so."""
    git_rewrites({"https://github.com/front-matter/commonmeta-ruby": "rees-dockerfile"})
    target = resolution().resolve("https://zenodo.org/record/7752775")
    assert target.files[0].name == "front-matter/commonmeta-ruby-v3.0.1.zip"
    assert target.provenance["git_tag"] == "v3.0.1"
    assert "git_commit" not in target.provenance
    assert any("could not check Git tag v3.0.1" in w for w in target.warnings)


def test_concept_record_is_pinned_to_latest_version(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    """Concept record 3723939 CONSTRUCTED: the current record 7834392 answered under its
    concept id with id == conceptrecid, and links.latest pointing at 7834392."""
    concept = copy.deepcopy(fixture_json("zenodo-record-7834392.json"))
    concept.update(id=3723939, recid="3723939")
    concept["conceptrecid"] = "3723939"
    concept["links"]["latest"] = "https://zenodo.org/api/records/7834392"
    replay.add("https://zenodo.org/api/records/3723939", body=concept)
    target = resolution().resolve("https://zenodo.org/doi/10.5281/zenodo.3723939")
    assert target.ref == "7834392@162"
    assert any("pinned to the latest version, record 7834392" in w for w in target.warnings)
    assert ("zenodo:3723939", "zenodo:7834392") in [(h.from_, h.to) for h in target.chain]


def test_metadata_only_invenio_record_is_not_launchable(resolution: Callable[..., Resolution]) -> None:
    with pytest.raises(NotFound, match="no public files"):
        resolution().resolve("https://rogue-scholar.org/records/apt10-14q04")


def test_invenio_record_with_files(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    """CONSTRUCTED from the rogue-scholar record with files enabled and one entry."""
    rec = copy.deepcopy(fixture_json("invenio-rdm-record-rogue-scholar-apt10-14q04.json"))
    rec["id"] = "abcde-12345"
    rec["files"] = {"enabled": True, "entries": {"code.zip": {
        "key": "code.zip", "size": 3, "checksum": "md5:" + "1" * 32,
        "links": {"content": "https://rogue-scholar.org/api/records/abcde-12345/files/code.zip/content"}}}}
    replay.add("https://rogue-scholar.org/api/records/abcde-12345", body=rec)
    target = resolution().resolve("https://rogue-scholar.org/records/abcde-12345")
    assert (target.provider, target.files[0].name) == ("invenio", "code.zip")
    assert target.launch_path == "v2/doi/10.59350/510pg-zzf58"


def test_invenio_record_without_doi_launches_through_a_spec_build_accepts(
        resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    """CONSTRUCTED: the record above without its DOI. Its launch path is what the /v2/
    page hands to /build, so resolving that path must give the same pinned target."""
    rec = copy.deepcopy(fixture_json("invenio-rdm-record-rogue-scholar-apt10-14q04.json"))
    rec["id"] = "fghij-67890"
    rec["pids"] = {}
    rec["files"] = {"enabled": True, "entries": {"code.zip": {
        "key": "code.zip", "size": 3, "checksum": "md5:" + "2" * 32,
        "links": {"content": "https://rogue-scholar.org/api/records/fghij-67890/files/code.zip/content"}}}}
    replay.add("https://rogue-scholar.org/api/records/fghij-67890", body=rec)
    target = resolution().resolve("https://rogue-scholar.org/records/fghij-67890")
    assert target.launch_path == "v2/invenio/rogue-scholar.org/fghij-67890"
    assert target.launch_path.split("/")[1] in SPEC_PROVIDERS
    again = resolution().resolve(target.launch_path.removeprefix("v2/"))
    assert (again.source, again.ref, again.files) == (target.source, target.ref, target.files)
    assert again.launch_path == target.launch_path


@pytest.mark.parametrize("spec, needle", [
    ("invenio/github.com/abcde-12345", "not an InvenioRDM host this launcher knows"),
    ("invenio/evil.example.org/abcde-12345", "not an InvenioRDM host this launcher knows"),
    ("invenio/rogue-scholar.org/..%2F..%2Fadmin", "not <host>/<record id>"),
    ("invenio/rogue-scholar.org", "not <host>/<record id>"),
])
def test_invenio_spec_names_only_known_hosts_and_record_ids(spec: str, needle: str) -> None:
    with pytest.raises(MalformedIdentifier, match=needle):
        parse(spec)
