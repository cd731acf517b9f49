"""Self-test of the replay server: recorded bodies under original URLs via the rewrite."""

from __future__ import annotations

import json

import pytest

from fdo.errors import NotFound
from fdo.net import HttpClient, HttpStatusError, NetConfig
from tests.harness.replay import FIXTURES, ReplayServer, answers_url, fixture_routes


def test_recorded_body_through_rewrite(rewrites_env: dict[str, str], replay: ReplayServer) -> None:
    data = HttpClient().get_json("https://zenodo.org/api/records/7834392")
    assert data == json.loads((FIXTURES / "zenodo-record-7834392.json").read_bytes())
    assert replay.requests[-1].path == "/zenodo.org/api/records/7834392"


def test_every_fixture_with_a_url_is_served(replay: ReplayServer) -> None:
    table = fixture_routes()
    assert "dataverse-dataset-10.7910-DVN-TJCLKP.json" in table
    assert len(table) >= 27
    client = HttpClient(NetConfig(url_rewrites=replay.rewrites(), retries=0))
    for name, (url, opts) in table.items():
        resp = client.get(url, ok_statuses=(opts.get("status", 200),), follow_redirects=False)
        assert resp.body == (FIXTURES / name).read_bytes(), name


def test_query_must_match_where_fixture_answers_a_query(replay: ReplayServer) -> None:
    client = HttpClient(NetConfig(url_rewrites=replay.rewrites(), retries=0))
    base = "https://dataverse.harvard.edu/api/datasets/:persistentId"
    assert client.get_json(f"{base}?persistentId=doi:10.7910/DVN/TJCLKP")["status"] == "OK"
    with pytest.raises(NotFound):
        client.get(f"{base}?persistentId=doi:10.7910/DVN/OTHER")


def test_status_and_headers_of_explicit_fixtures(replay: ReplayServer) -> None:
    client = HttpClient(NetConfig(url_rewrites=replay.rewrites(), retries=0))
    resp = client.get("https://doi.org/10.1126/science.169.3946.635", follow_redirects=False,
                      ok_statuses=(302,))
    assert resp.headers["location"].startswith("https://api.crossref.org/v1/works/")
    with pytest.raises(HttpStatusError) as err:
        client.get("https://api.github.com/repos/jupyterhub/zero-to-jupyterhub-k8s/commits/nosuchref")
    assert err.value.response.status == 422


def test_added_routes_and_handlers(replay: ReplayServer) -> None:
    replay.add("https://zenodo.org/api/records/1", body={"id": 1}, headers={"X-Test": "yes"})
    replay.add("https://zenodo.org/api/records/2",
               handler=lambda req: (201, {"X-Method": req.method}, b"made"))
    client = HttpClient(NetConfig(url_rewrites=replay.rewrites(), retries=0))
    resp = client.get("https://zenodo.org/api/records/1")
    assert resp.json() == {"id": 1}
    assert resp.headers["x-test"] == "yes"
    assert client.get("https://zenodo.org/api/records/2", ok_statuses=(201,)).body == b"made"
    assert [r.path for r in replay.requests] == ["/zenodo.org/api/records/1",
                                                 "/zenodo.org/api/records/2"]


def test_answers_line_parsing() -> None:
    assert answers_url("Answers: GET https://x.org/a/b (text)") == "https://x.org/a/b"
    assert answers_url("Answers: GET https://<server>/api/handles/<h>") is None
