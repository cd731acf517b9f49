"""Resolution cost per identifier kind: HTTP round trips and wall time, cold vs cached.

Starts its own replay server (recorded payloads; a few records constructed in the shape of
the recorded ones, as in the tests) and the local git smart-HTTP server, points the resolver
at them with NFDI_LAUNCHER_URL_REWRITES, then per kind:

- cold: a fresh Resolution (empty HTTP and resolution caches) resolves once (the baseline);
- cached: the same Resolution resolves the same identifier again, N times (median).

The last line is one JSON object:
``{"cached_median_ms": ..., "kinds": {kind: {"round_trips": n, "cold_ms": x, "cached_ms": y}}}``.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fdo.net import Git, RemoteRefs  # noqa: E402
from fdo.resolve import Resolution  # noqa: E402
from tests.harness.gitserver import GitServer  # noqa: E402
from tests.harness.replay import FIXTURES, ReplayServer  # noqa: E402

REPEAT = 200
HANDLE_API = "https://hdl.handle.net/api/handles"


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text())


def setup(replay: ReplayServer, git: GitServer) -> dict[str, str]:
    """Constructed records (shapes copied from the recorded ones) and the identifiers."""
    for prefix, agency in (("10.5063", "DataCite"), ("10.5194", "Crossref"), ("10.6084", "DataCite")):
        replay.add(f"https://doi.org/ra/{prefix}", body=[{"DOI": prefix, "RA": agency}])
    dc = copy.deepcopy(fixture("datacite-10.6084-m9.figshare.1449060.json"))
    dc["data"]["attributes"]["url"] = "https://figshare.com/articles/code/binder_example/9782777/3"
    replay.add("https://api.datacite.org/dois/10.6084/m9.figshare.9782777.v3", body=dc)
    d = "247168dd727c19cef2ce885476d3e4102d2ca7de"
    for directory in (d, fixture("swh-revision-aafb16d69fd30ff58afdd69036a26047f3aebdc6.json")["directory"]):
        status = {"fetch_url": f"https://archive.softwareheritage.org/api/1/vault/flat/swh:1:dir:{directory}/raw/",
                  "id": 1, "status": "done", "swhid": f"swh:1:dir:{directory}", "progress_message": None}
        url = f"https://archive.softwareheritage.org/api/1/vault/flat/swh:1:dir:{directory}/"
        replay.add(url, body=status, method="POST")
    record = copy.deepcopy(fixture("zenodo-record-7752775-legacy-github-release.json"))
    record.update(id=48440, doi="10.5281/zenodo.48440")
    record["metadata"]["related_identifiers"] = [{
        "identifier": "https://github.com/kjgarza/frame_experiment_analysis/tree/v1.0",
        "relation": "isSupplementTo", "scheme": "url"}]
    replay.add("https://zenodo.org/api/records/48440", body=record)
    replay.add("https://api.figshare.com/v2/articles/9782777/versions/3", body={
        "id": 9782777, "title": "t", "files": [{"name": "a.zip", "size": 1, "is_link_only": False,
        "computed_md5": "0" * 32, "download_url": "https://ndownloader.figshare.com/files/1"}]})
    version = fixture("dataverse-dataset-10.7910-DVN-TJCLKP.json")["data"]["latestVersion"]
    replay.add("https://dataverse.harvard.edu/api/datasets/:persistentId/versions/4.0"
               "?persistentId=doi:10.7910/DVN/TJCLKP", body={"status": "OK", "data": version})
    replay.add(f"{HANDLE_API}/21.11152/bench-git", body={"responseCode": 1, "values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://github.com/bench/rees/tree/v1.0"}}]})
    row = dict(fixture("rsd-software-row-mock.json"), slug="rees", concept_doi=None)
    replay.add("https://nfdi.software/api/v1/software?slug=eq.rees&select=id,slug,brand_name,concept_doi,is_published",
               body=[row])
    replay.add(f"https://nfdi.software/api/v1/rpc/repository_by_software?software_id={row['id']}&order=position,url",
               body=[{"url": "https://github.com/bench/rees", "code_platform": "github"}])
    rewrites = replay.rewrites()
    for original in ("https://github.com/bench/rees", "https://github.com/kjgarza/frame_experiment_analysis",
                     "https://gitlab.com/bench/sub/rees"):
        rewrites[original] = git.url_for("rees-dockerfile")
    os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(rewrites)
    return {
        "git-github-tag": "https://github.com/bench/rees/releases/tag/v1.0",
        "git-gitlab-tree": "https://gitlab.com/bench/sub/rees/-/tree/dev",
        "doi-zenodo-github-release": "10.5281/zenodo.48440",
        "doi-datacite-swhid": "doi:10.5063/F1M61H5X",
        "doi-crossref-article": "https://doi.org/10.5194/gmd-13-4205-2020",
        "zenodo-record": "https://zenodo.org/records/7834392",
        "figshare": "figshare/10.6084/m9.figshare.9782777.v3",
        "dataverse": "https://dataverse.harvard.edu/dataset.xhtml?persistentId=doi:10.7910/DVN/TJCLKP",
        "hydroshare": "hydroshare/142c59757ed54de1816777828c9716e7",
        "ckan": "https://data.depositar.io/dataset/x?activity_id=93df7fd0-0edc-4ebf-bac7-fbf5f78de90b",
        "swhid-rev": "swh:1:rev:aafb16d69fd30ff58afdd69036a26047f3aebdc6",
        "handle-to-git": "hdl:21.11152/bench-git",
        "rsd": "https://nfdi.software/software/rees",
    }


class CountingGit(Git):
    """The real hardened git wrapper, counting ls-remote calls (each is one round trip)."""

    calls = 0

    def ls_remote(self, url: str) -> RemoteRefs:
        self.calls += 1
        return super().ls_remote(url)


def measure(identifier: str) -> dict[str, float]:
    git = CountingGit()
    res = Resolution(git=git)
    start = time.perf_counter()
    res.resolve(identifier)
    cold = (time.perf_counter() - start) * 1000
    trips = res.http.round_trips
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        res.resolve(identifier)
        samples.append((time.perf_counter() - start) * 1000)
    return {"round_trips": trips, "git_ls_remote": git.calls, "cold_ms": round(cold, 2),
            "cached_ms": round(statistics.median(samples), 4)}


def main() -> None:
    replay = ReplayServer()
    with tempfile.TemporaryDirectory(prefix="bench-resolve-") as tmp:
        git = GitServer(Path(tmp))
        try:
            kinds = {kind: measure(ident) for kind, ident in setup(replay, git).items()}
        finally:
            git.close()
            replay.close()
    print(f"{'kind':28} {'HTTP trips':>10} {'ls-remote':>9} {'cold ms':>9} {'cached ms':>10}")
    for kind, row in kinds.items():
        print(f"{kind:28} {row['round_trips']:>10} {row['git_ls_remote']:>9} {row['cold_ms']:>9.2f} "
              f"{row['cached_ms']:>10.4f}")
    cached_median = statistics.median(row["cached_ms"] for row in kinds.values())
    print(json.dumps({"cached_median_ms": round(cached_median, 4), "kinds": kinds}))


if __name__ == "__main__":
    main()
