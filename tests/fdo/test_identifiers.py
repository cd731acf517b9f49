"""Every accepted spelling -> the typed Identifier (pure parsing, no network)."""

from __future__ import annotations

import pytest

from fdo.errors import MalformedIdentifier, RefusedTarget, UnsupportedIdentifier
from fdo.providers import parse

SHA = "b3344b7f17c335a817c5d7608c5e47fd7cabc023"
DIR = "247168dd727c19cef2ce885476d3e4102d2ca7de"

# (input, kind, normalized, expected parts subset)
CASES: list[tuple[str, str, str, dict[str, str]]] = [
    # DOIs in every spelling
    ("10.5281/zenodo.48440", "doi", "doi:10.5281/zenodo.48440", {"doi": "10.5281/zenodo.48440"}),
    ("doi:10.5281/zenodo.48440", "doi", "doi:10.5281/zenodo.48440", {"prefix": "10.5281"}),
    ("DOI:10.5281/ZENODO.48440", "doi", "doi:10.5281/zenodo.48440", {"suffix": "ZENODO.48440"}),
    ("https://doi.org/10.5281/zenodo.48440", "doi", "doi:10.5281/zenodo.48440", {}),
    ("http://dx.doi.org/10.5281/zenodo.48440", "doi", "doi:10.5281/zenodo.48440", {}),
    ("https://dx.doi.org/10.7910/DVN/TJCLKP", "doi", "doi:10.7910/dvn/tjclkp", {"doi": "10.7910/DVN/TJCLKP"}),
    ("HTTPS://DOI.ORG/10.1000/182", "doi", "doi:10.1000/182", {}),
    ("http://www.doi.org/10.1000/182", "doi", "doi:10.1000/182", {}),
    ("info:doi/10.1000/182", "doi", "doi:10.1000/182", {}),
    ("urn:doi:10.1000/182", "doi", "doi:10.1000/182", {}),
    ("doi.org/10.1000/182", "doi", "doi:10.1000/182", {}),
    ("https://doi.org/10.1000%2F182", "doi", "doi:10.1000/182", {}),
    ("  10.5194/gmd-13-4205-2020  ", "doi", "doi:10.5194/gmd-13-4205-2020", {}),
    ("doi/10.5281/zenodo.48440", "doi", "doi:10.5281/zenodo.48440", {}),
    # BinderHub data specs
    ("zenodo/10.5281/zenodo.3242074", "doi", "doi:10.5281/zenodo.3242074", {"provider": "zenodo"}),
    ("figshare/10.6084/m9.figshare.9782777.v1", "doi", "doi:10.6084/m9.figshare.9782777.v1", {"provider": "figshare"}),
    ("dataverse/10.7910/DVN/TJCLKP", "doi", "doi:10.7910/dvn/tjclkp", {"provider": "dataverse"}),
    ("dataverse/10.7910/DVN/TJCLKP@4.0", "doi", "doi:10.7910/dvn/tjclkp@4.0", {"version": "4.0"}),
    ("hydroshare/142c59757ed54de1816777828c9716e7", "hydroshare", "hydroshare:142c59757ed54de1816777828c9716e7", {}),
    ("ckan/https%3A%2F%2Fdata.depositar.io%2Fdataset%2Fturtles%3Factivity_id%3D93df7fd0-0edc-4ebf-bac7-fbf5f78de90b",
     "ckan", "ckan:https://data.depositar.io/dataset/turtles@93df7fd0-0edc-4ebf-bac7-fbf5f78de90b",
     {"activity_id": "93df7fd0-0edc-4ebf-bac7-fbf5f78de90b", "base": "https://data.depositar.io"}),
    ("v2/gh/jupyterhub/binder-examples/main", "git", "https://github.com/jupyterhub/binder-examples@main", {}),
    # Handles / FDO PIDs
    ("hdl:21.11152/474a4b1c-de93-4d4a-b33d-1d32d63baf4b", "handle", "hdl:21.11152/474a4b1c-de93-4d4a-b33d-1d32d63baf4b", {"prefix": "21.11152"}),
    ("https://hdl.handle.net/21.11152/474a4b1c", "handle", "hdl:21.11152/474a4b1c", {}),
    ("http://hdl.handle.net/api/handles/21.11152/474a4b1c", "handle", "hdl:21.11152/474a4b1c", {}),
    ("21.T11148/b8457812905b83046284", "handle", "hdl:21.T11148/b8457812905b83046284", {}),
    ("20.500.12345/abc-1", "handle", "hdl:20.500.12345/abc-1", {}),
    ("hdl/21.11152/474a4b1c", "handle", "hdl:21.11152/474a4b1c", {}),
    ("hdl:10.5281/zenodo.48440", "doi", "doi:10.5281/zenodo.48440", {}),
    ("hdl:someprefix/somesuffix", "handle", "hdl:someprefix/somesuffix", {}),
    # SWHIDs
    (f"swh:1:dir:{DIR}", "swhid", f"swh:1:dir:{DIR}", {"type": "dir", "hash": DIR}),
    (f"swh:1:rev:{SHA}", "swhid", f"swh:1:rev:{SHA}", {"type": "rev"}),
    (f"swh:1:rel:{SHA}", "swhid", f"swh:1:rel:{SHA}", {"type": "rel"}),
    (f"swh:1:snp:{SHA}", "swhid", f"swh:1:snp:{SHA}", {"type": "snp"}),
    (f"swh:1:dir:{DIR};origin=https://github.com/o/r;visit=swh:1:snp:{SHA};anchor=swh:1:rev:{SHA};path=/src",
     "swhid", f"swh:1:dir:{DIR};origin=https://github.com/o/r;visit=swh:1:snp:{SHA};anchor=swh:1:rev:{SHA};path=/src",
     {"origin": "https://github.com/o/r", "path": "/src"}),
    (f"swh:1:dir:{DIR};lines=1-9", "swhid", f"swh:1:dir:{DIR};lines=1-9", {"lines": "1-9"}),
    (f"https://archive.softwareheritage.org/swh:1:dir:{DIR}", "swhid", f"swh:1:dir:{DIR}", {}),
    (f"swhid/swh:1:dir:{DIR}", "swhid", f"swh:1:dir:{DIR}", {}),
    # GitHub
    ("https://github.com/jupyterhub/binder", "git", "https://github.com/jupyterhub/binder", {"provider": "gh", "ref": ""}),
    ("https://github.com/jupyterhub/binder.git", "git", "https://github.com/jupyterhub/binder", {"url": "https://github.com/jupyterhub/binder"}),
    ("https://github.com/o/r/tree/feature/x/docs", "git", "https://github.com/o/r@feature/x/docs", {"ref_kind": "tree"}),
    ("https://github.com/o/r/blob/main/README.md", "git", "https://github.com/o/r@main/README.md", {"ref_kind": "tree"}),
    (f"https://github.com/o/r/commit/{SHA}", "git", f"https://github.com/o/r@{SHA}", {"ref_kind": "commit"}),
    ("https://github.com/o/r/releases/tag/v1.0", "git", "https://github.com/o/r@v1.0", {"ref_kind": "tag"}),
    ("github.com/o/r", "git", "https://github.com/o/r", {}),
    ("git@github.com:o/r.git", "git", "https://github.com/o/r", {"provider": "gh"}),
    ("ssh://git@github.com/o/r.git", "git", "https://github.com/o/r", {}),
    ("gh/o/r/v1.0", "git", "https://github.com/o/r@v1.0", {"owner": "o", "repo": "r", "ref_kind": "spec"}),
    ("gh/o/r/HEAD", "git", "https://github.com/o/r", {"ref": ""}),
    ("gh/o/r/refs/heads/v2", "git", "https://github.com/o/r@refs/heads/v2", {}),
    ("gist/jdoe/8f1e2ad5e7c4a1b2/HEAD", "git", "https://gist.github.com/8f1e2ad5e7c4a1b2@HEAD".replace("@HEAD", ""), {"provider": "gist"}),
    ("https://gist.github.com/jdoe/8f1e2ad5e7c4a1b2", "git", "https://gist.github.com/8f1e2ad5e7c4a1b2", {"source": "https://gist.github.com/jdoe/8f1e2ad5e7c4a1b2"}),
    # GitLab
    ("https://gitlab.com/gitlab-org/gitlab-foss", "git", "https://gitlab.com/gitlab-org/gitlab-foss", {"provider": "gl", "project": "gitlab-org/gitlab-foss"}),
    ("https://gitlab.com/g/sub/deeper/p.git", "git", "https://gitlab.com/g/sub/deeper/p", {"project": "g/sub/deeper/p"}),
    ("https://gitlab.com/g/sub/p/-/tree/main/docs", "git", "https://gitlab.com/g/sub/p@main/docs", {"ref_kind": "tree"}),
    (f"https://gitlab.com/g/p/-/commit/{SHA}", "git", f"https://gitlab.com/g/p@{SHA}", {"ref_kind": "commit"}),
    ("https://gitlab.com/g/p/-/tags/v10.0.6", "git", "https://gitlab.com/g/p@v10.0.6", {"ref_kind": "tag"}),
    ("gl/gitlab-org%2Fgitlab-foss/v10.0.6", "git", "https://gitlab.com/gitlab-org/gitlab-foss@v10.0.6", {"provider": "gl"}),
    ("https://git.example.org/g/p/-/tree/dev", "git", "https://git.example.org/g/p@dev", {"provider": "git"}),
    # Gitea / Codeberg / Bitbucket / generic
    ("https://codeberg.org/o/r/src/branch/main", "git", "https://codeberg.org/o/r@main", {"ref_kind": "tree-branch"}),
    ("https://codeberg.org/o/r/src/tag/v1.0/docs", "git", "https://codeberg.org/o/r@v1.0/docs", {"ref_kind": "tree-tag"}),
    (f"https://codeberg.org/o/r/src/commit/{SHA}", "git", f"https://codeberg.org/o/r@{SHA}", {"ref_kind": "commit"}),
    ("https://gitea.example.org/o/r/src/branch/dev", "git", "https://gitea.example.org/o/r@dev", {}),
    ("https://bitbucket.org/w/r/src/main/", "git", "https://bitbucket.org/w/r@main", {"ref_kind": "tree"}),
    (f"https://bitbucket.org/w/r/commits/{SHA}", "git", f"https://bitbucket.org/w/r@{SHA}", {}),
    ("https://git.example.org/group/repo.git", "git", "https://git.example.org/group/repo", {"url": "https://git.example.org/group/repo.git"}),
    ("git/https%3A%2F%2Fgit.example.org%2Frepo.git/v1", "git", "https://git.example.org/repo@v1", {"provider": "git"}),
    # data repositories by landing URL
    ("https://zenodo.org/records/7834392", "zenodo", "zenodo:zenodo.org/7834392", {"recid": "7834392"}),
    ("https://zenodo.org/record/48440", "zenodo", "zenodo:zenodo.org/48440", {}),
    ("https://zenodo.org/doi/10.5281/zenodo.5785518", "zenodo", "zenodo:zenodo.org/5785518", {}),
    ("https://sandbox.zenodo.org/records/123", "zenodo", "zenodo:sandbox.zenodo.org/123", {}),
    ("https://rogue-scholar.org/records/apt10-14q04", "invenio", "invenio:rogue-scholar.org/apt10-14q04", {}),
    ("https://figshare.com/articles/dataset/Drosophila/1449060/4", "figshare", "figshare:1449060.v4", {"version": "4"}),
    ("https://figshare.com/articles/code/x/9782777", "figshare", "figshare:9782777", {"id": "9782777"}),
    ("https://dataverse.harvard.edu/dataset.xhtml?persistentId=doi:10.7910/DVN/TJCLKP", "dataverse",
     "doi:10.7910/dvn/tjclkp", {"host": "dataverse.harvard.edu"}),
    ("https://dataverse.harvard.edu/citation?persistentId=doi:10.7910/DVN/NJ7XSO&version=2.1", "dataverse",
     "doi:10.7910/dvn/nj7xso", {"version": "2.1"}),
    ("https://www.hydroshare.org/resource/142c59757ed54de1816777828c9716e7/", "hydroshare",
     "hydroshare:142c59757ed54de1816777828c9716e7", {}),
    ("https://data.depositar.io/dataset/turtles", "ckan", "ckan:https://data.depositar.io/dataset/turtles", {}),
    # software directories, RO-Crates
    ("https://nfdi.software/software/esmvaltool", "rsd", "rsd:nfdi.software/esmvaltool", {"slug": "esmvaltool"}),
    ("https://research-software-directory.org/software/xenon-cli", "rsd", "rsd:research-software-directory.org/xenon-cli", {}),
    ("rsd:nfdi.software/esmvaltool", "rsd", "rsd:nfdi.software/esmvaltool", {}),
    ("rsd/nfdi.software/esmvaltool", "rsd", "rsd:nfdi.software/esmvaltool", {}),
    ("https://example.org/crates/x/ro-crate-metadata.json", "rocrate", "https://example.org/crates/x/ro-crate-metadata.json", {}),
    ("https://workflowhub.eu/workflows/1/ro_crate.crate.zip", "rocrate", "https://workflowhub.eu/workflows/1/ro_crate.crate.zip", {}),
    # the pinned launch path of an RO-Crate (URL-encoded crate URL, sha256 of its metadata)
    ("v2/rocrate/https%3A%2F%2Fexample.org%2Fc%2Fro-crate-metadata.json/" + "0a" * 32, "rocrate",
     "https://example.org/c/ro-crate-metadata.json@sha256:" + "0a" * 32,
     {"url": "https://example.org/c/ro-crate-metadata.json", "sha256": "0a" * 32}),
    ("rocrate/https%3A%2F%2Fexample.org%2Fc.crate.zip", "rocrate", "https://example.org/c.crate.zip",
     {"url": "https://example.org/c.crate.zip"}),
]


@pytest.mark.parametrize(("raw", "kind", "normalized", "parts"), CASES, ids=[c[0][:60] for c in CASES])
def test_parse(raw: str, kind: str, normalized: str, parts: dict[str, str]) -> None:
    ident = parse(raw)
    assert ident.kind == kind
    assert ident.normalized == normalized
    for key, value in parts.items():
        assert ident.parts.get(key) == value, key
    assert ident.raw == raw


def test_same_doi_spellings_normalize_equal() -> None:
    spellings = ["10.5281/zenodo.48440", "doi:10.5281/zenodo.48440", "https://doi.org/10.5281/zenodo.48440",
                 "http://dx.doi.org/10.5281/ZENODO.48440", "info:doi/10.5281/zenodo.48440"]
    assert len({parse(s).normalized for s in spellings}) == 1


def test_location_context_keeps_landing_pages_as_urls() -> None:
    assert parse("https://example.org/landing/page", location=True).kind == "url"
    assert parse("https://example.org/landing/page").kind == "git"  # user input: repo2docker's last resort
    assert parse("https://github.com/o/r", location=True).kind == "git"


def test_identifier_is_frozen_and_hashable() -> None:
    ident = parse("10.5281/zenodo.48440")
    with pytest.raises(AttributeError):
        ident.kind = "git"  # type: ignore[misc]
    assert hash(ident) == hash(parse("doi:10.5281/zenodo.48440"))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (f"swh:1:cnt:{DIR}", UnsupportedIdentifier),
        ("ext::sh -c touch% /tmp/pwned", RefusedTarget),
        ("file:///etc/passwd", RefusedTarget),
        ("git://github.com/o/r", RefusedTarget),
        ("not an identifier", MalformedIdentifier),
        ("10.5281/", MalformedIdentifier),
        ("rocrate/https%3A%2F%2Fexample.org%2Fc%2Fro-crate-metadata.json/abc", MalformedIdentifier),
        ("rocrate/https%3A%2F%2Fgithub.com%2Fo%2Fr", MalformedIdentifier),
        ("rocrate/file%3A%2F%2F%2Fetc%2Fro-crate-metadata.json", MalformedIdentifier),
        ("rocrate/", MalformedIdentifier),
    ],
)
def test_refusals_have_one_line_messages(raw: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        parse(raw)
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 300
    assert ";" in message or "use" in message or "give" in message
