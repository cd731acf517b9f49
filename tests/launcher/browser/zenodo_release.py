"""A CONSTRUCTED Zenodo GitHub-release DOI whose content is the ``rees-dockerfile`` scenario.

No recorded Zenodo record points at a repository that builds here, so this one is made in
the exact shapes of the real recordings in ``tests/fixtures/api/``:

- ``https://api.datacite.org/dois/10.5281/zenodo.<recid>``: the DataCite record of
  ``datacite-10.5281-zenodo.1196821.json`` with its DOI, URL, title and relations replaced;
- ``https://zenodo.org/api/records/<recid>``: the legacy Zenodo record of
  ``zenodo-record-7752775-legacy-github-release.json`` (a GitHub-integration release) with
  its ids, title, version, file and ``isSupplementTo .../tree/v1.0`` relation replaced;
- the release zip: ``git archive`` of tag ``v1.0`` of the scenario served by ``git_server``,
  with GitHub's ``<owner>-<repo>-<short sha>/`` top folder; size and md5 are the real ones.

``https://github.com/nfdi-test/rees-dockerfile`` is rewritten to the scenario repository, so
the resolver's tag check (``ls-remote``) finds the real commit.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import fixtures

FIXTURES = fixtures.API
REPO_URL = "https://github.com/nfdi-test/rees-dockerfile"
TAG = "v1.0"
RECID = "99900001"
CONCEPT_RECID = "99900000"
DOI = f"10.5281/zenodo.{RECID}"
TITLE = "nfdi-test/rees-dockerfile: rees-dockerfile v1.0"
BUCKET = "5f0c2a6e-0000-4000-8000-7265657364f1"


@dataclass(frozen=True)
class Release:
    doi: str
    recid: str
    title: str
    commit: str
    zip_url: str


def _zip(bare_repo: Path, commit: str) -> bytes:
    prefix = f"nfdi-test-rees-dockerfile-{commit[:7]}/"
    return subprocess.run(
        ["git", "archive", "--format=zip", f"--prefix={prefix}", commit],
        cwd=bare_repo, capture_output=True, check=True, timeout=60,
    ).stdout


def datacite_record() -> dict[str, Any]:
    base = json.loads((FIXTURES / "datacite-10.5281-zenodo.1196821.json").read_text())
    data = copy.deepcopy(base["data"])
    data["id"] = DOI
    attrs = data["attributes"]
    attrs.update(
        doi=DOI, suffix=f"zenodo.{RECID}", url=f"https://zenodo.org/record/{RECID}",
        titles=[{"title": TITLE}], version=TAG, identifiers=[], alternateIdentifiers=[],
        relatedIdentifiers=[
            {"relationType": "IsSupplementTo", "relatedIdentifier": f"{REPO_URL}/tree/{TAG}",
             "relatedIdentifierType": "URL"},
            {"relationType": "IsVersionOf", "relatedIdentifier": f"10.5281/zenodo.{CONCEPT_RECID}",
             "relatedIdentifierType": "DOI"},
        ],
        types={**attrs.get("types", {}), "resourceTypeGeneral": "Software"},
    )
    return {"data": data, "included": base.get("included", [])}


def zenodo_record(size: int, md5: str) -> dict[str, Any]:
    record = json.loads((FIXTURES / "zenodo-record-7752775-legacy-github-release.json").read_text())
    key = f"nfdi-test/rees-dockerfile-{TAG}.zip"
    record.update(
        id=int(RECID), conceptrecid=CONCEPT_RECID, doi=DOI,
        conceptdoi=f"10.5281/zenodo.{CONCEPT_RECID}",
        files=[{"bucket": BUCKET, "checksum": f"md5:{md5}", "key": key, "size": size, "type": "zip",
                "links": {"self": f"https://zenodo.org/api/files/{BUCKET}/{key}"}}],
    )
    record["links"] = {k: v.replace("7752775", RECID).replace("5785518", CONCEPT_RECID)
                       for k, v in record.get("links", {}).items() if isinstance(v, str)}
    meta = record["metadata"]
    meta.update(
        title=TITLE, version=TAG, doi=DOI,
        related_identifiers=[{"identifier": f"{REPO_URL}/tree/{TAG}", "relation": "isSupplementTo",
                              "scheme": "url"}],
    )
    meta.pop("relations", None)
    return record


def install(replay: Any, git_server: Any) -> Release:
    """Serve the constructed records and zip from *replay*; return what they describe."""
    commit = git_server.sha("rees-dockerfile", f"refs/tags/{TAG}^{{}}")
    payload = _zip(git_server.root / "rees-dockerfile.git", commit)
    md5 = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    replay.add(f"https://api.datacite.org/dois/{DOI}", body=datacite_record(), casefold=True)
    replay.add(f"https://zenodo.org/api/records/{RECID}", body=zenodo_record(len(payload), md5))
    zip_url = f"https://zenodo.org/api/files/{BUCKET}/nfdi-test/rees-dockerfile-{TAG}.zip"
    replay.add(zip_url, body=payload, headers={"Content-Type": "application/zip"})
    return Release(doi=DOI, recid=RECID, title=TITLE, commit=commit, zip_url=zip_url)
