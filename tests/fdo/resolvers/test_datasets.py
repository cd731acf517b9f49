"""Figshare, Dataverse, HydroShare and CKAN by URL or spec, against recorded payloads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fdo.errors import NotFound
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.harness.replay import ReplayServer

ACTIVITY = "93df7fd0-0edc-4ebf-bac7-fbf5f78de90b"


def test_ckan_activity_snapshot(resolution: Callable[..., Resolution]) -> None:
    url = f"https://data.depositar.io/dataset/binder-example-sea-turtle-sightings-in-taiwan/?activity_id={ACTIVITY}"
    target = resolution().resolve(url)
    result = fixture_json("ckan-depositar-activity_data_show-93df7fd0.json")["result"]
    assert target.provider == "ckan"
    assert target.ref == f"binder-example-sea-turtle-sightings-in-taiwan@{ACTIVITY}"
    assert [f.url for f in target.files] == [r["url"] for r in result["resources"]]
    assert target.launch_path.startswith("v2/ckan/https%3A%2F%2Fdata.depositar.io%2Fdataset%2F")
    assert target.warnings == ()


def test_ckan_missing_dataset(resolution: Callable[..., Resolution]) -> None:
    with pytest.raises(NotFound, match="not found"):
        resolution().resolve("https://demo.ckan.org/dataset/gone")


def test_hydroshare_is_pinned_to_modified_date(resolution: Callable[..., Resolution]) -> None:
    rid = "142c59757ed54de1816777828c9716e7"
    target = resolution().resolve(f"https://www.hydroshare.org/resource/{rid}/")
    assert target.provider == "hydroshare"
    assert target.ref.startswith(f"{rid}@20")
    assert target.files[0].url == f"https://www.hydroshare.org/django_s3/download/bags/{rid}.zip"
    assert any("can change" in w for w in target.warnings)


def test_figshare_url_with_version_uses_it(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    """Version record CONSTRUCTED in Figshare's article shape; link-only files are skipped."""
    replay.add("https://api.figshare.com/v2/articles/9782777/versions/2", body={
        "id": 9782777, "title": "t", "files": [
            {"name": "a.txt", "size": 1, "is_link_only": False, "computed_md5": "a" * 32,
             "download_url": "https://ndownloader.figshare.com/files/2"},
            {"name": "link", "is_link_only": True, "download_url": "https://example.org/x"}]})
    target = resolution().resolve("https://figshare.com/articles/code/x/9782777/2")
    assert target.ref == "9782777.v2"
    assert [f.name for f in target.files] == ["a.txt"]


def test_figshare_embargoed_version_has_no_files(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    replay.add("https://api.figshare.com/v2/articles/9782777/versions/1", body={"id": 9782777, "title": "t"})
    with pytest.raises(NotFound, match="embargoed"):
        resolution().resolve("https://figshare.com/articles/code/x/9782777/1")


def test_dataverse_url_without_version_reads_latest_then_that_version(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    version = fixture_json("dataverse-dataset-10.7910-DVN-TJCLKP.json")["data"]["latestVersion"]
    replay.add("https://dataverse.harvard.edu/api/datasets/:persistentId/versions/4.0?persistentId=doi:10.7910/DVN/TJCLKP",
               body={"status": "OK", "data": version})
    target = resolution().resolve("https://dataverse.harvard.edu/dataset.xhtml?persistentId=doi:10.7910/DVN/TJCLKP")
    assert target.ref == "doi:10.7910/DVN/TJCLKP@4.0"
    paths = [(r.path, r.query) for r in replay.requests if "dataverse" in r.path]
    assert any("/versions/4.0" in p for p, _ in paths)
