"""DOIs: registration agency -> DataCite/Crossref -> provider, against recorded payloads.

Records marked CONSTRUCTED below do not exist in the fixtures; each is built in the exact
shape of the recorded one it copies (named in the comment).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from fdo.errors import UnsupportedIdentifier
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.harness.gitserver import GitServer, Rewriter
from tests.harness.replay import ReplayServer

VAULT_DONE = {
    "fetch_url": "https://archive.softwareheritage.org/api/1/vault/flat/swh:1:dir:{d}/raw/",
    "id": 1, "progress_message": None, "status": "done", "swhid": "swh:1:dir:{d}",
}


def vault_done(replay: ReplayServer, directory: str) -> None:
    """CONSTRUCTED: vault status in the shape of swh-vault-flat-pending-977fc4b9.json, status done."""
    body = {k: (v.format(d=directory) if isinstance(v, str) else v) for k, v in VAULT_DONE.items()}
    url = f"https://archive.softwareheritage.org/api/1/vault/flat/swh:1:dir:{directory}/"
    replay.add(url, body=body, method="POST")
    replay.add(url, body=body)


def ra(replay: ReplayServer, prefix: str, agency: str) -> None:
    """CONSTRUCTED: doi.org/ra answer in the shape of doi-ra-prefix-10.5281.json."""
    replay.add(f"https://doi.org/ra/{prefix}", body=[{"DOI": prefix, "RA": agency}])


def test_datacite_swhid_identifier_leads_to_software_heritage(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    directory = "247168dd727c19cef2ce885476d3e4102d2ca7de"
    ra(replay, "10.5063", "DataCite")
    vault_done(replay, directory)
    target = resolution().resolve("https://doi.org/10.5063/F1M61H5X")
    assert (target.kind, target.provider, target.ref) == ("swh", "swhid", f"swh:1:dir:{directory}")
    assert target.chain[0].from_ == "doi:10.5063/f1m61h5x"
    assert target.chain[0].to == f"swh:1:dir:{directory}"
    assert target.files[0].url.endswith(f"/vault/flat/swh:1:dir:{directory}/raw/")


def test_zenodo_github_release_doi_keeps_files_and_records_git_tag(
    resolution: Callable[..., Resolution], replay: ReplayServer, git_rewrites: Rewriter,
    git_server: GitServer,
) -> None:
    """Zenodo record 48440 is CONSTRUCTED from the legacy GitHub-release record 7752775;
    its related tree/v1.0 URL is the one DataCite lists for 10.5281/zenodo.48440 and is
    served by the rees-dockerfile scenario (which has an annotated tag v1.0)."""
    record = copy.deepcopy(fixture_json("zenodo-record-7752775-legacy-github-release.json"))
    record.update(id=48440, doi="10.5281/zenodo.48440", conceptrecid="48439")
    record["metadata"]["related_identifiers"] = [{
        "identifier": "https://github.com/kjgarza/frame_experiment_analysis/tree/v1.0",
        "relation": "isSupplementTo", "scheme": "url"}]
    record["files"][0]["key"] = "kjgarza/frame_experiment_analysis-v1.0.zip"
    record["files"][0]["links"]["self"] = "https://zenodo.org/api/files/b/kjgarza/frame_experiment_analysis-v1.0.zip"
    replay.add("https://zenodo.org/api/records/48440", body=record)
    git_rewrites({"https://github.com/kjgarza/frame_experiment_analysis": "rees-dockerfile"})
    target = resolution().resolve("doi:10.5281/zenodo.48440")
    assert (target.kind, target.provider) == ("archive", "zenodo")
    assert target.launch_path == "v2/zenodo/10.5281/zenodo.48440"
    assert target.files[0].name == "kjgarza/frame_experiment_analysis-v1.0.zip"
    assert target.files[0].checksum == record["files"][0]["checksum"]
    assert target.provenance["git_tag"] == "v1.0"
    assert target.provenance["git_commit"] == git_server.sha("rees-dockerfile", "refs/tags/v1.0^{}")
    vias = [h.via for h in target.chain]
    assert vias[:1] == ["doi"]


def test_crossref_article_offers_related_software_as_choices(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    ra(replay, "10.5194", "Crossref")
    target = resolution().resolve("10.5194/gmd-13-4205-2020")
    assert target.ambiguous
    assert [c.identifier for c in target.choices] == ["doi:10.5281/zenodo.3970975", "doi:10.5281/zenodo.3952695"]
    assert "ESMValTool" in target.title


def test_figshare_doi_without_version_pins_latest_from_versions(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    """DataCite record for 9782777 CONSTRUCTED from datacite-10.6084-m9.figshare.1449060.json
    (its url even names version 1, which must NOT win); the article version record is
    CONSTRUCTED in Figshare's public article shape."""
    dc = copy.deepcopy(fixture_json("datacite-10.6084-m9.figshare.1449060.json"))
    dc["data"]["id"] = "10.6084/m9.figshare.9782777"
    dc["data"]["attributes"]["url"] = "https://figshare.com/articles/code/binder_example/9782777/1"
    replay.add("https://api.datacite.org/dois/10.6084/m9.figshare.9782777", body=dc)
    ra(replay, "10.6084", "DataCite")
    replay.add("https://api.figshare.com/v2/articles/9782777/versions/3", body={
        "id": 9782777, "title": "binder example", "version": 3,
        "url_public_html": "https://figshare.com/articles/code/binder_example/9782777",
        "files": [{"id": 1, "name": "env.zip", "size": 10, "is_link_only": False,
                   "download_url": "https://ndownloader.figshare.com/files/1",
                   "supplied_md5": "", "computed_md5": "0" * 32}]})
    target = resolution().resolve("figshare/10.6084/m9.figshare.9782777")
    assert (target.provider, target.ref) == ("figshare", "9782777.v3")
    assert target.launch_path == "v2/figshare/10.6084/m9.figshare.9782777.v3"
    assert target.files[0].checksum == "md5:" + "0" * 32
    assert any("latest, v3" in w for w in target.warnings)


def test_dataverse_doi_pins_an_explicit_version(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    """DataCite record for TJCLKP CONSTRUCTED from datacite-10.7910-dvn-nj7xso.json; the
    versions/4.0 answer CONSTRUCTED from the recorded dataset's latestVersion."""
    dc = copy.deepcopy(fixture_json("datacite-10.7910-dvn-nj7xso.json"))
    dc["data"]["attributes"]["url"] = "https://dataverse.harvard.edu/citation?persistentId=doi:10.7910/DVN/TJCLKP"
    replay.add("https://api.datacite.org/dois/10.7910/dvn/tjclkp", body=dc)
    ra(replay, "10.7910", "DataCite")
    version = fixture_json("dataverse-dataset-10.7910-DVN-TJCLKP.json")["data"]["latestVersion"]
    replay.add("https://dataverse.harvard.edu/api/datasets/:persistentId/versions/4.0?persistentId=doi:10.7910/DVN/TJCLKP",
               body={"status": "OK", "data": version})
    target = resolution().resolve("10.7910/DVN/TJCLKP")
    assert (target.provider, target.ref) == ("dataverse", "doi:10.7910/DVN/TJCLKP@4.0")
    assert target.launch_path == "v2/dataverse/10.7910/DVN/TJCLKP@4.0"
    names = [f.name for f in target.files]
    assert "data/2023-01-03.tsv" in names
    assert all("/api/access/datafile/" in f.url for f in target.files)
    assert any("latest released version 4.0" in w for w in target.warnings)
    again = resolution().resolve(target.launch_path)
    assert again.ref == target.ref
    assert not any("latest" in w for w in again.warnings)


def test_landing_page_only_doi_is_refused_clearly(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    """DataCite record CONSTRUCTED from datacite-10.5281-zenodo.1196821.json with a plain landing URL."""
    dc = copy.deepcopy(fixture_json("datacite-10.5281-zenodo.1196821.json"))
    dc["data"]["attributes"]["url"] = "https://example.org/landing"
    dc["data"]["attributes"]["relatedIdentifiers"] = []
    dc["data"]["attributes"]["identifiers"] = []
    replay.add("https://api.datacite.org/dois/10.5281/zenodo.999", body=dc)
    with pytest.raises(UnsupportedIdentifier, match="landing page"):
        resolution().resolve("10.5281/zenodo.999")
